//! What the emulator knows of ServiceTracker's objects: the documented
//! fields with their types and picklist values, read from the export
//! contract ferry keeps as data (`src/source/servicetracker-objects.json`).
//! Parsed here with the emulator's own types, so the API is checked against
//! the contract rather than against ferry's code.

use std::sync::LazyLock;

use serde::Deserialize;

/// The shared export contract: ferry, the generator and this emulator each
/// parse this same file with types of their own.
const OBJECTS_JSON: &str = include_str!("../../../src/source/servicetracker-objects.json");

/// How a column's text is typed before it is served (see [`crate::typing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Text,
    /// Local time in the export's timezone, served in UTC.
    Timestamp,
    Date,
    Boolean,
    Integer,
    /// Exact, with at most `scale` decimal places.
    Decimal {
        precision: u8,
        scale: i8,
    },
    Double,
}

impl FieldType {
    /// Reads the contract's spelling: `text`, `decimal(19,4)`, ….
    fn from_contract(text: &str) -> Option<FieldType> {
        Some(match text {
            "text" => FieldType::Text,
            "timestamp" => FieldType::Timestamp,
            "date" => FieldType::Date,
            "boolean" => FieldType::Boolean,
            "integer" => FieldType::Integer,
            "double" => FieldType::Double,
            _ => {
                let inside = text.strip_prefix("decimal(")?.strip_suffix(')')?;
                let (precision, scale) = inside.split_once(',')?;
                FieldType::Decimal {
                    precision: precision.trim().parse().ok()?,
                    scale: scale.trim().parse().ok()?,
                }
            }
        })
    }
}

/// One documented field.
#[derive(Debug, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type", deserialize_with = "field_type")]
    pub ty: FieldType,
    #[serde(default)]
    pub picklist: Vec<String>,
}

/// One object and its documented fields in export column order.
#[derive(Debug, Deserialize)]
pub struct Object {
    pub name: String,
    pub fields: Vec<Field>,
}

impl Object {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

#[derive(Deserialize)]
struct Contract {
    custom_field_prefix: String,
    objects: Vec<Object>,
}

fn field_type<'de, D: serde::Deserializer<'de>>(d: D) -> Result<FieldType, D::Error> {
    let text = String::deserialize(d)?;
    FieldType::from_contract(&text)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown field type `{text}`")))
}

static CONTRACT: LazyLock<Contract> = LazyLock::new(|| {
    serde_json::from_str(OBJECTS_JSON).expect("servicetracker-objects.json parses")
});

/// Every documented object, parents before children.
pub fn objects() -> &'static [Object] {
    &CONTRACT.objects
}

pub fn object(name: &str) -> Option<&'static Object> {
    objects().iter().find(|o| o.name == name)
}

/// Custom fields carry this prefix in a CSV export and lose it in the API's
/// `custom_fields`.
pub fn custom_field_prefix() -> &'static str {
    &CONTRACT.custom_field_prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_types_every_field() {
        assert_eq!(objects().len(), 16);
        assert_eq!(custom_field_prefix(), "cf_");
        let parts = object("parts").unwrap();
        assert_eq!(
            parts.field("unit_price").unwrap().ty,
            FieldType::Decimal {
                precision: 19,
                scale: 4
            }
        );
        assert_eq!(
            object("sites").unwrap().field("latitude").unwrap().ty,
            FieldType::Double
        );
        assert_eq!(
            object("customers")
                .unwrap()
                .field("invoice_method")
                .unwrap()
                .picklist,
            ["Email", "Mail", "Portal"]
        );
        assert!(object("nothing").is_none());
    }
}
