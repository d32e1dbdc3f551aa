//! ServiceTracker's JSON records as the lander sees them: every value as
//! its text, exactly as the CSV path would have it, so both sources land
//! the same typed rows.
//!
//! - A JSON string is its unescaped text; a number, `true`/`false` keep
//!   their literal text (`25000.00` keeps its two decimals); `null`, a
//!   missing key and `""` are all null, as an empty CSV field is.
//! - Custom fields arrive in a `custom_fields` object; they land as
//!   `cf_<name>` columns, like the CSV export's headers.
//! - Top-level keys ServiceTracker does not document land as "unknown"
//!   columns, typed by inference like custom ones; nested objects or arrays
//!   in them are kept as their JSON text.

use std::collections::{BTreeMap, HashMap};

use serde_json::value::RawValue;

use crate::source::records::{ColumnOrigin, ColumnPlan, RecordFields};
use crate::source::schema::{self, FieldType, CUSTOM_FIELD_PREFIX};
use crate::source::typing::TypeGuess;

/// The key holding custom fields in a record.
pub const CUSTOM_FIELDS_KEY: &str = "custom_fields";

/// One record's values by landed column position.
pub struct JsonRecord {
    values: Vec<Option<String>>,
}

impl RecordFields for JsonRecord {
    fn field(&self, index: usize) -> Option<&[u8]> {
        self.values.get(index)?.as_deref().map(str::as_bytes)
    }
}

/// A record's fields by landed column name (custom ones already `cf_`).
pub fn flatten(record: &RawValue) -> Result<BTreeMap<String, Option<String>>, String> {
    let top: HashMap<String, &RawValue> = serde_json::from_str(record.get())
        .map_err(|e| format!("the record is not a JSON object ({e})"))?;
    let mut fields = BTreeMap::new();
    for (key, value) in top {
        if key == CUSTOM_FIELDS_KEY {
            if value.get().trim() == "null" {
                continue;
            }
            let custom: HashMap<String, &RawValue> = serde_json::from_str(value.get())
                .map_err(|e| format!("`custom_fields` is not a JSON object ({e})"))?;
            for (name, value) in custom {
                fields.insert(format!("{CUSTOM_FIELD_PREFIX}{name}"), text_of(value)?);
            }
        } else {
            fields.insert(key, text_of(value)?);
        }
    }
    Ok(fields)
}

/// The text the CSV export would hold for this JSON value.
fn text_of(value: &RawValue) -> Result<Option<String>, String> {
    let raw = value.get().trim();
    if raw == "null" {
        return Ok(None);
    }
    if raw.starts_with('"') {
        let text: String =
            serde_json::from_str(raw).map_err(|e| format!("a string value is malformed ({e})"))?;
        return Ok((!text.is_empty()).then_some(text));
    }
    Ok(Some(raw.to_string()))
}

/// The columns an object's records land in: documented fields in their
/// documented order, then custom and unknown columns by name — the CSV
/// path's order — with undocumented columns typed by inference over every
/// record.
#[derive(Debug, Default)]
pub struct ColumnDiscovery {
    undocumented: BTreeMap<String, TypeGuess>,
}

impl ColumnDiscovery {
    pub fn observe(&mut self, object: &str, fields: &BTreeMap<String, Option<String>>) {
        let known = schema::object(object);
        for (name, value) in fields {
            if known.is_some_and(|o| o.field(name).is_some()) {
                continue;
            }
            let guess = self.undocumented.entry(name.clone()).or_default();
            if let Some(text) = value {
                if !guess.is_settled_on_text() {
                    guess.observe(text, None);
                }
            }
        }
    }

    pub fn plan(&self, object: &str) -> Vec<ColumnPlan> {
        let mut plan = Vec::new();
        if let Some(known) = schema::object(object) {
            for field in known.fields {
                plan.push(ColumnPlan {
                    name: field.name.to_string(),
                    ty: field.ty,
                    origin: ColumnOrigin::Standard,
                    source_index: plan.len(),
                });
            }
        } else if !self.undocumented.contains_key("id") {
            plan.push(ColumnPlan {
                name: "id".into(),
                ty: FieldType::Text,
                origin: ColumnOrigin::Unknown,
                source_index: 0,
            });
        }
        for (name, guess) in &self.undocumented {
            plan.push(ColumnPlan {
                name: name.clone(),
                ty: guess.finish(),
                origin: if name.starts_with(CUSTOM_FIELD_PREFIX) {
                    ColumnOrigin::Custom
                } else {
                    ColumnOrigin::Unknown
                },
                source_index: plan.len(),
            });
        }
        plan
    }
}

/// Orders a flattened record's values by `plan`.
pub fn record_for(plan: &[ColumnPlan], mut fields: BTreeMap<String, Option<String>>) -> JsonRecord {
    let mut values = vec![None; plan.len()];
    for column in plan {
        values[column.source_index] = fields.remove(&column.name).flatten();
    }
    JsonRecord { values }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    #[test]
    fn values_keep_their_csv_text() {
        let fields = flatten(&raw(
            r#"{"id":"CUS-1","company_name":"Acme \"A\"","email":"","phone":null,
                "custom_fields":{"credit_limit":25000.00,"tax_exempt":false,"note":"x"},
                "legacy_code":{"a":1}}"#,
        ))
        .unwrap();
        assert_eq!(fields["id"].as_deref(), Some("CUS-1"));
        assert_eq!(fields["company_name"].as_deref(), Some("Acme \"A\""));
        assert_eq!(fields["email"], None);
        assert_eq!(fields["phone"], None);
        assert_eq!(fields["cf_credit_limit"].as_deref(), Some("25000.00"));
        assert_eq!(fields["cf_tax_exempt"].as_deref(), Some("false"));
        assert_eq!(fields["legacy_code"].as_deref(), Some(r#"{"a":1}"#));
    }

    #[test]
    fn undocumented_columns_follow_documented_ones_sorted_and_typed() {
        let mut discovery = ColumnDiscovery::default();
        for text in [
            r#"{"id":"CUS-1","custom_fields":{"tier":"Gold","limit":10.50}}"#,
            r#"{"id":"CUS-2","zzz":"2024-01-02T03:04:05Z","custom_fields":{"tier":null,"limit":7}}"#,
        ] {
            discovery.observe("customers", &flatten(&raw(text)).unwrap());
        }
        let plan = discovery.plan("customers");
        let documented = schema::object("customers").unwrap().fields.len();
        let tail: Vec<(String, FieldType)> = plan[documented..]
            .iter()
            .map(|c| (c.name.clone(), c.ty))
            .collect();
        assert_eq!(
            tail,
            vec![
                (
                    "cf_limit".to_string(),
                    FieldType::Decimal {
                        precision: 4,
                        scale: 2
                    }
                ),
                ("cf_tier".to_string(), FieldType::Text),
                ("zzz".to_string(), FieldType::Timestamp),
            ]
        );
        let record = record_for(
            &plan,
            flatten(&raw(r#"{"id":"CUS-9","custom_fields":{"limit":1.25}}"#)).unwrap(),
        );
        assert_eq!(record.field(0), Some(&b"CUS-9"[..]));
        assert_eq!(record.field(documented), Some(&b"1.25"[..]));
        assert_eq!(record.field(documented + 1), None);
    }
}
