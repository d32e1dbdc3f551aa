//! The pure scoring that decides which source field proposes which target
//! column and with what score: name similarity (normalised words, synonyms,
//! edit distance, address 1/2 prefixes), type compatibility, value profile
//! and length. No I/O: every function here is a function of its arguments,
//! so the unit tests below pin the scores.

use strsim::levenshtein;

use super::*;

/// A field name taken apart for matching.
#[derive(Debug, Clone)]
pub(super) struct FieldName {
    /// All words run together: `billingpostalcode`.
    pub(super) full: String,
    /// Without an address qualifier: `postalcode`.
    pub(super) rest: String,
    /// 1 or 2 when a qualifier names the address, else 0.
    pub(super) slot: u8,
}

/// Lower-case words of a name: split at non-alphanumerics and camelCase
/// humps, with the `cf_` of a custom field dropped.
pub(super) fn words(name: &str) -> Vec<String> {
    let body = match name.get(..3) {
        Some(head) if name.len() > 3 && head.eq_ignore_ascii_case("cf_") => &name[3..],
        _ => name,
    };
    let mut out = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in body.chars() {
        if c.is_alphanumeric() {
            if c.is_uppercase() && previous_lower && !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            previous_lower = c.is_lowercase() || c.is_ascii_digit();
            current.extend(c.to_lowercase());
        } else {
            previous_lower = false;
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

pub(super) fn field_name(field: &str) -> FieldName {
    let words = words(field);
    let full = words.concat();
    if words.len() > 1 {
        if let Some((_, slot)) = synonyms::ADDRESS_QUALIFIERS
            .iter()
            .find(|(q, _)| *q == words[0])
        {
            return FieldName {
                full,
                rest: words[1..].concat(),
                slot: *slot,
            };
        }
    }
    FieldName {
        rest: full.clone(),
        full,
        slot: 0,
    }
}

/// A column name's address slot and stem: `address1_postalcode` → (1,
/// `postalcode`), `msdyn_postalcode` → (0, `postalcode`), `st_ponumber` →
/// (0, `ponumber`).
pub(super) fn column_stem(column: &str, prefix: &str) -> (u8, String) {
    let mut name = column;
    let mut slot = 0;
    if let Some(rest) = name.strip_prefix("address1_") {
        slot = 1;
        name = rest;
    } else if let Some(rest) = name.strip_prefix("address2_") {
        slot = 2;
        name = rest;
    }
    if let Some(rest) = name.strip_prefix("msdyn_") {
        name = rest;
    }
    let own = format!("{prefix}_");
    if let Some(rest) = name.strip_prefix(own.as_str()) {
        name = rest;
    }
    (slot, name.replace('_', ""))
}

/// How well a field's name fits a column, 0..1, and why.
pub(super) fn name_score(field: &FieldName, column: &str, prefix: &str) -> (f64, &'static str) {
    let (slot, stem) = column_stem(column, prefix);
    let compact = column.replace('_', "");
    let aliases = synonyms::COLUMN_SYNONYMS
        .iter()
        .find(|(s, _)| *s == stem)
        .map(|(_, a)| *a)
        .unwrap_or(&[]);
    let (score, why) = if field.full == compact {
        (1.0, "same name")
    } else if field.rest == stem {
        (0.95, "same name")
    } else if aliases.contains(&field.rest.as_str()) || aliases.contains(&field.full.as_str()) {
        (0.9, "a synonym")
    } else {
        let similar = similarity(&field.rest, &stem);
        if similar >= 0.75 {
            (similar * 0.8, "a similar name")
        } else {
            (0.0, "")
        }
    };
    // The address a qualifier names must be the column's; an unqualified
    // field prefers the entity's own column, then address 1.
    let slot_factor = match (field.slot, slot) {
        (0, 0) => 1.0,
        (0, 1) => 0.85,
        (0, _) => 0.6,
        (_, 0) => 0.9,
        (a, b) if a == b => 1.0,
        _ => 0.4,
    };
    (score * slot_factor, why)
}

/// Similarity of two compact strings: edit distance, or one containing the
/// other (`postal` in `postalcode`).
pub(super) fn similarity(a: &str, b: &str) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (short, long) = if a.chars().count() <= b.chars().count() {
        (a, b)
    } else {
        (b, a)
    };
    let (ls, ll) = (short.chars().count(), long.chars().count());
    let contained = if ls >= 4 && long.contains(short) {
        0.5 + 0.5 * ls as f64 / ll as f64
    } else {
        0.0
    };
    let edit = 1.0 - levenshtein(a, b) as f64 / ll as f64;
    edit.max(contained)
}

/// What the source column holds, from its staged DuckDB type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SourceKind {
    Text,
    Integer,
    Decimal { scale: u32 },
    Double,
    Boolean,
    Date,
    Timestamp,
    Other,
}

pub(super) fn source_kind(duckdb_type: &str) -> SourceKind {
    let t = duckdb_type.to_ascii_uppercase();
    match t.as_str() {
        "VARCHAR" => SourceKind::Text,
        "BIGINT" | "INTEGER" | "SMALLINT" | "TINYINT" | "HUGEINT" | "UBIGINT" | "UINTEGER"
        | "USMALLINT" | "UTINYINT" => SourceKind::Integer,
        "DOUBLE" | "FLOAT" | "REAL" => SourceKind::Double,
        "BOOLEAN" => SourceKind::Boolean,
        "DATE" => SourceKind::Date,
        _ if t.starts_with("TIMESTAMP") => SourceKind::Timestamp,
        _ if t.starts_with("DECIMAL") => {
            let scale = t
                .trim_start_matches("DECIMAL")
                .trim_matches(['(', ')'])
                .split(',')
                .nth(1)
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(4);
            SourceKind::Decimal { scale }
        }
        _ => SourceKind::Other,
    }
}

/// What the values of a text field look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ValueProfile {
    Email,
    Phone,
    Url,
    Date,
    Integer,
    Decimal,
    Text,
    /// No values to judge by.
    Unknown,
}

impl ValueProfile {
    pub(super) fn describe(self) -> &'static str {
        match self {
            ValueProfile::Email => "e-mail addresses",
            ValueProfile::Phone => "phone numbers",
            ValueProfile::Url => "web addresses",
            ValueProfile::Date => "dates",
            ValueProfile::Integer => "whole numbers",
            ValueProfile::Decimal => "decimal numbers",
            ValueProfile::Text => "text",
            ValueProfile::Unknown => "nothing (no values)",
        }
    }

    /// The display format of a Dataverse text column for such values.
    pub(super) fn format(self) -> Option<&'static str> {
        match self {
            ValueProfile::Email => Some("Email"),
            ValueProfile::Phone => Some("Phone"),
            ValueProfile::Url => Some("Url"),
            _ => None,
        }
    }
}

pub(super) fn looks_like_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !v.contains(char::is_whitespace)
        && !domain.contains('@')
        && domain.split('.').count() >= 2
        && domain.split('.').all(|p| !p.is_empty())
}

pub(super) fn looks_like_url(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("www."))
        && !v.contains(char::is_whitespace)
}

pub(super) fn looks_like_phone(v: &str) -> bool {
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let allowed = v
        .chars()
        .all(|c| c.is_ascii_digit() || " +()-./x".contains(c));
    let separated = v.starts_with('+') || v.chars().any(|c| " ()-./".contains(c));
    allowed && separated && (7..=15).contains(&digits)
}

pub(super) fn looks_like_date(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

pub(super) fn looks_like_integer(v: &str) -> bool {
    let digits = v.strip_prefix('-').unwrap_or(v);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn looks_like_decimal(v: &str) -> bool {
    let digits = v.strip_prefix('-').unwrap_or(v);
    match digits.split_once('.') {
        Some((a, b)) => {
            !a.is_empty() && !b.is_empty() && looks_like_integer(a) && looks_like_integer(b)
        }
        None => false,
    }
}

/// A value profile and the test a sample value must pass to show it.
pub(super) type ProfileTest = (ValueProfile, fn(&str) -> bool);

/// The profile most (80%) of a text field's sample, minimum and maximum
/// values share.
pub(super) fn value_profile(field: &InventoryField) -> ValueProfile {
    let mut values: Vec<&str> = field.sample_values.iter().map(String::as_str).collect();
    values.extend(field.min_value.as_deref());
    values.extend(field.max_value.as_deref());
    values.retain(|v| !v.trim().is_empty());
    values.sort_unstable();
    values.dedup();
    if values.is_empty() {
        return ValueProfile::Unknown;
    }
    let share = |test: fn(&str) -> bool| {
        values.iter().filter(|v| test(v.trim())).count() as f64 / values.len() as f64
    };
    let checks: [ProfileTest; 6] = [
        (ValueProfile::Email, looks_like_email),
        (ValueProfile::Url, looks_like_url),
        (ValueProfile::Date, looks_like_date),
        (ValueProfile::Phone, looks_like_phone),
        (ValueProfile::Integer, looks_like_integer),
        (ValueProfile::Decimal, looks_like_decimal),
    ];
    for (profile, test) in checks {
        if share(test) >= 0.8 {
            return profile;
        }
    }
    ValueProfile::Text
}

/// Whether a source of this kind can land in the column, 0..1.
pub(super) fn type_factor(
    kind: SourceKind,
    field: &InventoryField,
    column: &Column,
    text: ValueProfile,
) -> f64 {
    use ColumnType as C;
    let numeric_text = matches!(text, ValueProfile::Integer | ValueProfile::Decimal);
    match (kind, column.column_type) {
        (SourceKind::Text, C::String | C::Memo) => 1.0,
        (SourceKind::Text, C::Picklist | C::Status) => {
            if field.picklist_like {
                0.85
            } else {
                0.2
            }
        }
        (SourceKind::Text, C::Boolean) => 0.2,
        (SourceKind::Text, C::Integer | C::BigInt | C::Decimal | C::Double | C::Money) => {
            if numeric_text {
                0.5
            } else {
                0.05
            }
        }
        (SourceKind::Text, C::DateTime) => {
            if text == ValueProfile::Date {
                0.5
            } else {
                0.05
            }
        }
        (SourceKind::Integer, C::Integer | C::BigInt) => 1.0,
        (SourceKind::Integer, C::Decimal | C::Double | C::Money) => 0.85,
        (SourceKind::Integer, C::String | C::Memo) => 0.5,
        (SourceKind::Integer, C::Picklist) => 0.3,
        (SourceKind::Decimal { .. }, C::Decimal | C::Money) => 1.0,
        (SourceKind::Decimal { .. }, C::Double) => 0.9,
        (SourceKind::Decimal { scale }, C::Integer | C::BigInt) => {
            if scale == 0 {
                0.8
            } else {
                0.4
            }
        }
        (SourceKind::Decimal { .. }, C::String | C::Memo) => 0.4,
        (SourceKind::Double, C::Double) => 1.0,
        (SourceKind::Double, C::Decimal | C::Money) => 0.9,
        (SourceKind::Double, C::String | C::Memo) => 0.4,
        (SourceKind::Boolean, C::Boolean) => 1.0,
        (SourceKind::Boolean, C::Picklist) => 0.5,
        (SourceKind::Boolean, C::String | C::Memo) => 0.3,
        (SourceKind::Date, C::DateTime) => {
            if column.is_date_only() {
                1.0
            } else {
                0.9
            }
        }
        (SourceKind::Timestamp, C::DateTime) => {
            if column.is_date_only() {
                0.7
            } else {
                1.0
            }
        }
        (SourceKind::Date | SourceKind::Timestamp, C::String | C::Memo) => 0.3,
        _ => 0.0,
    }
}

/// Whether the column may receive a source field at all: ids, type names,
/// party lists and read-only columns are the platform's, a state follows
/// its status, and lookups take only reference fields.
pub(super) fn candidate_column(column: &Column, field: &InventoryField, record_id: &str) -> bool {
    use ColumnType as C;
    if column.name == record_id || column.valid_for_create == Some(false) {
        return false;
    }
    match column.column_type {
        C::Uniqueidentifier
        | C::EntityName
        | C::PartyList
        | C::Image
        | C::State
        | C::MultiSelectPicklist => false,
        C::Lookup | C::Customer | C::Owner => !field.references.is_empty(),
        _ => true,
    }
}

/// Orders scored `(score, field index, column, reason)` pairs so that the
/// best are taken first; equal scores go to the earlier field, then to the
/// column whose name sorts first, so every run proposes the same map.
pub(super) fn best_first(pairs: &mut [(f64, usize, String, String)]) {
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
}

/// The score of a (field, column) pair with its reason.
pub(super) fn score_pair(
    field: &InventoryField,
    name: &FieldName,
    column: &Column,
    table: &str,
    prefix: &str,
    profile: Profile,
) -> Option<(f64, String)> {
    let kind = source_kind(&field.duckdb_type);
    let text_profile = if kind == SourceKind::Text {
        value_profile(field)
    } else {
        ValueProfile::Unknown
    };
    let (mut name_part, mut why) = name_score(name, &column.name, prefix);
    let mut notes: Vec<String> = Vec::new();

    // Values in a special format can carry a field whose name says nothing.
    let special = text_profile.format();
    let column_format = column.format.as_deref();
    let profile_factor = match (special, column_format) {
        (Some(s), Some(f)) if s == f => {
            if name_part < 0.5 {
                name_part = 0.5;
                why = "its values";
            }
            notes.push(format!("values look like {}", text_profile.describe()));
            1.15
        }
        (Some(_), Some("Email" | "Phone" | "Url")) => {
            notes.push(format!(
                "values look like {}, not what the column holds",
                text_profile.describe()
            ));
            0.3
        }
        (Some(_), _) => 0.85,
        (None, Some("Email" | "Phone" | "Url")) if text_profile == ValueProfile::Text => {
            notes.push("values do not look like what the column holds".to_string());
            0.6
        }
        _ => 1.0,
    };
    if name_part <= 0.0 {
        return None;
    }

    let type_part = if column.is_lookup() {
        let referenced: Vec<String> = field
            .references
            .iter()
            .flat_map(|o| object_plan(o, profile, prefix).tables)
            .collect();
        if column.targets.iter().any(|t| referenced.contains(t)) {
            1.0
        } else {
            0.0
        }
    } else {
        type_factor(kind, field, column, text_profile)
    };
    if type_part <= 0.0 {
        return None;
    }
    if type_part < 0.6 {
        notes.push(format!(
            "{} into a {} column",
            field.inferred_type,
            column.column_type.as_str()
        ));
    }

    let length_part = match (field.max_length, column.max_length) {
        (Some(longest), Some(max)) if longest > max => {
            notes.push(format!(
                "longest value {longest} characters > {max}: those rows become findings"
            ));
            0.75
        }
        _ => 1.0,
    };
    let score = (name_part * type_part * profile_factor * length_part).min(0.99);
    let mut reason = format!("{why}: {table}.{}", column.name);
    if !notes.is_empty() {
        reason.push_str(" (");
        reason.push_str(&notes.join("; "));
        reason.push(')');
    }
    Some((score, reason))
}

/// A score as the proposal shows it: two decimals.
pub(super) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(json: serde_json::Value) -> Column {
        serde_json::from_value(json).expect("a column definition")
    }

    fn text_column(name: &str, max_length: i64, format: &str) -> Column {
        column(serde_json::json!({
            "name": name, "type": "String", "max_length": max_length,
            "required_level": "None", "format": format, "valid_for_create": true,
        }))
    }

    fn text_field(name: &str, values: &[&str]) -> InventoryField {
        InventoryField {
            object: "contacts".into(),
            field: name.into(),
            inferred_type: "text".into(),
            duckdb_type: "VARCHAR".into(),
            sample_values: values.iter().map(|v| v.to_string()).collect(),
            max_length: values.iter().map(|v| v.chars().count() as i64).max(),
            ..InventoryField::default()
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn words_split_separators_and_camel_case_and_drop_the_custom_field_mark() {
        assert_eq!(words("billingPostalCode"), ["billing", "postal", "code"]);
        assert_eq!(words("cf_Customer_Tier"), ["customer", "tier"]);
        assert_eq!(words("Street2"), ["street2"]);
        assert_eq!(words("ABC"), ["abc"]);
        // `cf_` alone is a name, not a custom-field mark.
        assert_eq!(words("cf_"), ["cf"]);
        assert!(words("").is_empty());
        assert!(words("__").is_empty());
    }

    #[test]
    fn an_address_qualifier_names_the_slot_only_before_other_words() {
        let billing = field_name("billing_zip");
        assert_eq!(
            (billing.full.as_str(), billing.rest.as_str(), billing.slot),
            ("billingzip", "zip", 1)
        );
        let shipping = field_name("ShippingCity");
        assert_eq!((shipping.rest.as_str(), shipping.slot), ("city", 2));
        let plain = field_name("zip");
        assert_eq!((plain.rest.as_str(), plain.slot), ("zip", 0));
        let alone = field_name("billing");
        assert_eq!((alone.rest.as_str(), alone.slot), ("billing", 0));
    }

    #[test]
    fn column_stems_drop_address_platform_and_publisher_prefixes() {
        assert_eq!(
            column_stem("address1_postalcode", "st"),
            (1, "postalcode".into())
        );
        assert_eq!(column_stem("address2_line1", "st"), (2, "line1".into()));
        assert_eq!(
            column_stem("msdyn_postalcode", "st"),
            (0, "postalcode".into())
        );
        assert_eq!(column_stem("st_po_number", "st"), (0, "ponumber".into()));
        // Another publisher's prefix is part of the name.
        assert_eq!(column_stem("xy_po_number", "st"), (0, "xyponumber".into()));
    }

    #[test]
    fn edit_distance_counts_characters_not_bytes() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("abc", ""), 3);
        assert_eq!(levenshtein("same", "same"), 0);
        assert_eq!(levenshtein("müller", "mueller"), 2);
        assert_eq!(levenshtein("straße", "strasse"), 2);
    }

    #[test]
    fn similarity_is_edit_distance_or_containment_and_symmetric() {
        assert_eq!(similarity("", "city"), 0.0);
        assert_eq!(similarity("city", ""), 0.0);
        assert_eq!(similarity("city", "city"), 1.0);
        // Contained (at least four characters): 0.5 + 0.5 · 6/10.
        assert!(close(similarity("postal", "postalcode"), 0.8));
        assert!(close(similarity("postalcode", "postal"), 0.8));
        // Three characters are too few to count as contained: 1 − 4/7.
        assert!(close(similarity("zip", "zipcode"), 1.0 - 4.0 / 7.0));
        assert!(close(similarity("adress", "address"), 1.0 - 1.0 / 7.0));
    }

    #[test]
    fn name_scores_rank_same_name_then_synonym_then_resemblance() {
        let (score, why) = name_score(&field_name("EmailAddress1"), "emailaddress1", "st");
        assert_eq!((score, why), (1.0, "same name"));
        let (score, why) = name_score(&field_name("mail"), "emailaddress1", "st");
        assert_eq!((score, why), (0.9, "a synonym"));
        let (score, why) = name_score(&field_name("jobtitel"), "jobtitle", "st");
        assert!(close(score, (1.0 - 2.0 / 8.0) * 0.8), "{score}");
        assert_eq!(why, "a similar name");
        // Below a similarity of 0.75 a name says nothing.
        assert_eq!(
            name_score(&field_name("kontakt"), "emailaddress1", "st"),
            (0.0, "")
        );
        assert_eq!(name_score(&field_name(""), "jobtitle", "st"), (0.0, ""));
    }

    #[test]
    fn name_scores_follow_the_address_a_qualifier_names() {
        let zip = field_name("zip");
        let billing = field_name("billing_zip");
        let score = |f: &FieldName, c: &str| name_score(f, c, "st").0;
        // Unqualified: the entity's own column, then address 1, then 2.
        assert!(close(score(&zip, "address1_postalcode"), 0.9 * 0.85));
        assert!(close(score(&zip, "address2_postalcode"), 0.9 * 0.6));
        assert!(close(score(&field_name("city"), "city"), 1.0));
        // Qualified: its own slot, never the other address.
        assert!(close(score(&billing, "address1_postalcode"), 0.9));
        assert!(close(score(&billing, "address2_postalcode"), 0.9 * 0.4));
        assert!(close(score(&billing, "postalcode"), 0.9 * 0.9));
        // Case and separators do not matter.
        assert_eq!(
            score(&field_name("Billing-ZIP"), "address1_postalcode"),
            score(&billing, "address1_postalcode")
        );
    }

    #[test]
    fn source_kinds_read_duckdb_types_in_any_case() {
        assert_eq!(source_kind("varchar"), SourceKind::Text);
        assert_eq!(source_kind("UBIGINT"), SourceKind::Integer);
        assert_eq!(
            source_kind("DECIMAL(18,2)"),
            SourceKind::Decimal { scale: 2 }
        );
        assert_eq!(source_kind("DECIMAL"), SourceKind::Decimal { scale: 4 });
        assert_eq!(
            source_kind("TIMESTAMP WITH TIME ZONE"),
            SourceKind::Timestamp
        );
        assert_eq!(source_kind("BLOB"), SourceKind::Other);
    }

    #[test]
    fn value_profiles_need_four_in_five_values() {
        let profile = |values: &[&str]| value_profile(&text_field("x", values));
        assert_eq!(
            profile(&["a@b.example", "c@d.example"]),
            ValueProfile::Email
        );
        assert_eq!(
            profile(&["+49 30 1234567", "(030) 123-4567"]),
            ValueProfile::Phone
        );
        assert_eq!(
            profile(&["https://a.example", "www.b.example"]),
            ValueProfile::Url
        );
        assert_eq!(profile(&["2024-01-31"]), ValueProfile::Date);
        // Digits without separators are a number, not a phone.
        assert_eq!(profile(&["1234567"]), ValueProfile::Integer);
        assert_eq!(profile(&["12.50", "-3.25"]), ValueProfile::Decimal);
        assert_eq!(
            profile(&["a@b.example", "not an address"]),
            ValueProfile::Text
        );
        assert_eq!(profile(&[]), ValueProfile::Unknown);
        assert_eq!(profile(&["  "]), ValueProfile::Unknown);
    }

    #[test]
    fn pair_scores_combine_name_type_values_and_length() {
        let job = text_column("jobtitle", 100, "Text");
        let email = text_column("emailaddress1", 100, "Email");
        let score = |field: &InventoryField, column: &Column| {
            score_pair(
                field,
                &field_name(&field.field),
                column,
                "contact",
                "st",
                Profile::Sales,
            )
        };

        // A perfect pair is capped below certainty: only built-ins are 1.0.
        let (s, reason) = score(&text_field("jobtitle", &["Engineer"]), &job).unwrap();
        assert_eq!((s, reason.as_str()), (0.99, "same name: contact.jobtitle"));

        // Values can carry a field whose name says nothing: 0.5 × 1.15.
        let kontakt = text_field("kontakt", &["a@b.example", "c@d.example"]);
        let (s, reason) = score(&kontakt, &email).unwrap();
        assert!(close(s, 0.575), "{s}");
        assert!(s >= STANDARD_THRESHOLD);
        assert_eq!(
            reason,
            "its values: contact.emailaddress1 (values look like e-mail addresses)"
        );
        // ... but without such values and a resembling name, no pair.
        assert!(score(&text_field("kontakt", &["Anna"]), &email).is_none());

        // A synonym whose values are not e-mail addresses is doubted.
        let (s, _) = score(&text_field("mail", &["Anna", "Bert"]), &email).unwrap();
        assert!(close(s, 0.9 * 0.6), "{s}");
        assert!(s < STANDARD_THRESHOLD);

        // Values longer than the column cost a quarter.
        let long = "x".repeat(150);
        let (s, reason) = score(&text_field("jobtitle", &[&long]), &job).unwrap();
        assert!(close(s, 0.75), "{s}");
        assert!(
            reason.contains("longest value 150 characters > 100"),
            "{reason}"
        );

        // A weak type fit is named; an impossible one is no pair.
        let flag = InventoryField {
            duckdb_type: "BOOLEAN".into(),
            inferred_type: "boolean".into(),
            ..text_field("jobtitle", &[])
        };
        let (s, reason) = score(&flag, &job).unwrap();
        assert!(close(s, 0.3), "{s}");
        assert!(reason.contains("boolean into a String column"), "{reason}");
        let date = column(serde_json::json!({
            "name": "jobtitle", "type": "DateTime", "required_level": "None",
        }));
        assert!(score(&flag, &date).is_none());
    }

    #[test]
    fn the_best_pairs_come_first_and_ties_go_to_the_earlier_field_then_column() {
        let pair = |score: f64, field: usize, column: &str| {
            (score, field, column.to_string(), String::new())
        };
        let mut pairs = vec![
            pair(0.6, 0, "b"),
            pair(0.9, 2, "b"),
            pair(0.9, 1, "z"),
            pair(0.9, 1, "a"),
            pair(0.6, 0, "a"),
        ];
        best_first(&mut pairs);
        let order: Vec<(f64, usize, &str)> =
            pairs.iter().map(|p| (p.0, p.1, p.2.as_str())).collect();
        assert_eq!(
            order,
            [
                (0.9, 1, "a"),
                (0.9, 1, "z"),
                (0.9, 2, "b"),
                (0.6, 0, "a"),
                (0.6, 0, "b")
            ]
        );
    }

    #[test]
    fn candidate_columns_exclude_the_platforms_own() {
        let field = text_field("x", &["a"]);
        let lookup = column(serde_json::json!({
            "name": "parentcustomerid", "type": "Lookup", "required_level": "None",
            "targets": ["account"],
        }));
        assert!(candidate_column(
            &text_column("jobtitle", 100, "Text"),
            &field,
            "contactid"
        ));
        assert!(!candidate_column(
            &text_column("contactid", 100, "Text"),
            &field,
            "contactid"
        ));
        assert!(!candidate_column(&lookup, &field, "contactid"));
        let reference = InventoryField {
            references: vec!["customers".into()],
            ..field.clone()
        };
        assert!(candidate_column(&lookup, &reference, "contactid"));
        let read_only = column(serde_json::json!({
            "name": "fullname", "type": "String", "required_level": "None",
            "valid_for_create": false,
        }));
        assert!(!candidate_column(&read_only, &field, "contactid"));
    }
}
