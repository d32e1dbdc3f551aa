//! Custom columns for fields no standard column fits: a name under the
//! publisher prefix that does not clash, and a type that follows the data
//! (text with headroom, Memo, choice, whole number, decimal, date, boolean).

use super::*;

/// A lower-case ASCII name for a Dataverse logical name: words run
/// together, umlauts spelt out, anything else dropped.
pub(super) fn logical_stem(name: &str) -> String {
    let mut out = String::new();
    for c in words(name).concat().chars() {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            'ä' => out.push_str("ae"),
            'ö' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            'à' | 'á' | 'â' | 'å' => out.push('a'),
            'è' | 'é' | 'ê' | 'ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' => out.push('i'),
            'ò' | 'ó' | 'ô' => out.push('o'),
            'ù' | 'ú' | 'û' => out.push('u'),
            'ç' => out.push('c'),
            'ñ' => out.push('n'),
            _ => {}
        }
    }
    if out.is_empty() {
        "field".to_string()
    } else {
        out
    }
}

pub(super) fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// `<prefix>_<stem>`, numbered when the name is taken.
pub(super) fn custom_name(field: &str, prefix: &str, taken: &BTreeSet<String>) -> String {
    let room = MAX_CUSTOM_NAME.saturating_sub(prefix.len() + 1);
    let stem = truncate(&logical_stem(field), room);
    let base = format!("{prefix}_{stem}");
    if !taken.contains(&base) {
        return base;
    }
    (2..)
        .map(|n| {
            let suffix = n.to_string();
            format!(
                "{prefix}_{}{suffix}",
                truncate(&stem, room.saturating_sub(suffix.len()))
            )
        })
        .find(|name| !taken.contains(name))
        .expect("some numbered name is free")
}

/// Text length with headroom, rounded up to a size people recognise.
pub(super) fn text_size(longest: i64) -> (&'static str, i64) {
    const STRING_SIZES: [i64; 8] = [20, 50, 100, 200, 500, 1000, 2000, MAX_STRING_LENGTH];
    const MEMO_SIZES: [i64; 3] = [10_000, 100_000, 1_048_576];
    let wanted = longest + (longest / 2).max(10);
    if let Some(size) = STRING_SIZES.iter().find(|s| **s >= wanted) {
        return ("String", *size);
    }
    (
        "Memo",
        *MEMO_SIZES
            .iter()
            .find(|s| **s >= wanted)
            .unwrap_or(&MEMO_SIZES[2]),
    )
}

/// Decimal places in a sample value (`12.50` → 2).
pub(super) fn decimals(value: &str) -> u32 {
    value
        .split_once('.')
        .map(|(_, d)| d.trim_end_matches('0').len() as u32)
        .unwrap_or(0)
}

pub(super) fn custom_choice(field: &InventoryField) -> bool {
    source_kind(&field.duckdb_type) == SourceKind::Text
        && field.picklist_like
        && field.distinct_count > 0
        && field.distinct_count <= CUSTOM_CHOICE_MAX_VALUES
        && field.max_length.unwrap_or(0) <= CUSTOM_CHOICE_MAX_LABEL
        && field.multiline.unwrap_or(0) == 0
        && field.leading_zero.unwrap_or(0) == 0
}

/// The custom column a field's data calls for, and why.
pub(super) fn custom_column_for(field: &InventoryField, name: String) -> (CustomColumn, String) {
    let mut column = CustomColumn {
        name,
        type_name: "String".to_string(),
        max_length: None,
        precision: None,
        format: None,
        behavior: None,
    };
    let why = match source_kind(&field.duckdb_type) {
        SourceKind::Boolean => {
            column.type_name = "Boolean".into();
            "true/false values: a two-option (Yes/No) column".to_string()
        }
        SourceKind::Date => {
            column.type_name = "DateTime".into();
            column.format = Some("DateOnly".into());
            column.behavior = Some("DateOnly".into());
            "calendar dates: a date-only column".to_string()
        }
        SourceKind::Timestamp => {
            column.type_name = "DateTime".into();
            column.format = Some("DateAndTime".into());
            column.behavior = Some("UserLocal".into());
            "timestamps: a date-and-time column (stored in UTC)".to_string()
        }
        SourceKind::Integer => {
            let fits = |v: &Option<String>| {
                v.as_deref()
                    .and_then(|t| t.parse::<i64>().ok())
                    .is_none_or(|n| i32::try_from(n).is_ok())
            };
            if fits(&field.min_value) && fits(&field.max_value) {
                column.type_name = "Integer".into();
                format!(
                    "whole numbers ({} to {}): a whole-number column",
                    field.min_value.as_deref().unwrap_or("?"),
                    field.max_value.as_deref().unwrap_or("?")
                )
            } else {
                column.type_name = "BigInt".into();
                "whole numbers beyond 32 bits: a big-integer column".to_string()
            }
        }
        SourceKind::Decimal { scale } => {
            let places = scale.min(10);
            let words = words(&field.field);
            let money = words
                .iter()
                .any(|w| synonyms::MONEY_WORDS.contains(&w.as_str()));
            column.type_name = if money { "Money" } else { "Decimal" }.into();
            column.precision = Some(if money { places.min(4) } else { places });
            let mut why = format!(
                "decimal numbers with {scale} decimal places: a {} column with {places}",
                if money { "currency" } else { "decimal" }
            );
            if scale > places || (money && places > 4) {
                why.push_str(" (values are rounded: check the precision_loss findings)");
            }
            why
        }
        SourceKind::Double => {
            let mut values: Vec<&String> = field.sample_values.iter().collect();
            values.extend(field.min_value.iter());
            values.extend(field.max_value.iter());
            let places = values.iter().map(|v| decimals(v)).max().unwrap_or(2).min(5);
            column.type_name = "Double".into();
            column.precision = Some(places);
            format!("floating-point numbers with up to {places} decimal places in the samples: a floating-point column")
        }
        SourceKind::Text if custom_choice(field) => {
            column.type_name = "Picklist".into();
            format!(
                "a short list of {} labels: a choice column with new options",
                field.distinct_count
            )
        }
        SourceKind::Text | SourceKind::Other => {
            let longest = field.max_length.unwrap_or(0);
            let multiline = field.multiline.unwrap_or(0) > 0;
            let (type_name, size) = text_size(longest);
            let profile = value_profile(field);
            let mut why = if field.non_null == 0 {
                "no values seen: text of a default size".to_string()
            } else {
                format!("text, longest value {longest} characters")
            };
            if multiline && type_name == "String" {
                column.type_name = "Memo".into();
                column.max_length = Some(size.max(2000));
                column.format = Some("TextArea".into());
                why.push_str(", several lines: a multi-line column");
            } else {
                column.type_name = type_name.into();
                column.max_length = Some(if field.non_null == 0 { 100 } else { size });
                if type_name == "Memo" {
                    column.format = Some("TextArea".into());
                    why.push_str(&format!(
                        ", beyond {MAX_STRING_LENGTH}: a multi-line column"
                    ));
                } else {
                    column.format = Some(profile.format().unwrap_or("Text").into());
                }
            }
            if let Some(format) = profile.format() {
                why.push_str(&format!(
                    ", values look like {} ({format} format)",
                    profile.describe()
                ));
            }
            if field.leading_zero.unwrap_or(0) > 0 {
                why.push_str(", leading zeros: stays text");
            }
            why
        }
    };
    (column, why)
}
