//! The ServiceTracker data model as ferry knows it (SPEC §8.1).
//!
//! ServiceTracker documents its standard fields but not its custom ones, so
//! this module is the single place in ferry that says which columns an export
//! must have, how each is typed when it lands, which values a picklist
//! documents and which fields point at other objects: the extractor types
//! columns by it and the inventory profiles against it.
//!
//! The model itself is data, `servicetracker-objects.json` beside this file,
//! embedded and parsed once: the generator and the emulator crates read the
//! same file, so the three agree on the export without sharing code.

use std::sync::LazyLock;

use serde::Deserialize;

/// How a field's text is typed when it lands in Parquet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Kept verbatim as text: ids, names, phone numbers, postal codes.
    Text,
    /// `YYYY-MM-DD HH:MM:SS` local time in the export's timezone, landed as UTC.
    Timestamp,
    /// `YYYY-MM-DD`.
    Date,
    /// `true` / `false`.
    Boolean,
    /// A whole number that fits in 64 bits.
    Integer,
    /// A fixed-point number with at most `scale` decimal places, landed as
    /// Decimal128(precision, scale) so no cent is ever rounded.
    Decimal { precision: u8, scale: i8 },
    /// A floating-point number (coordinates).
    Double,
}

impl FieldType {
    /// The name analysts see in the inventory and in DuckDB.
    pub fn sql_name(&self) -> String {
        match self {
            FieldType::Text => "VARCHAR".into(),
            FieldType::Timestamp => "TIMESTAMP WITH TIME ZONE".into(),
            FieldType::Date => "DATE".into(),
            FieldType::Boolean => "BOOLEAN".into(),
            FieldType::Integer => "BIGINT".into(),
            FieldType::Decimal { precision, scale } => format!("DECIMAL({precision},{scale})"),
            FieldType::Double => "DOUBLE".into(),
        }
    }

    /// A short label for reports and JSON.
    pub fn label(&self) -> String {
        match self {
            FieldType::Text => "text".into(),
            FieldType::Timestamp => "timestamp".into(),
            FieldType::Date => "date".into(),
            FieldType::Boolean => "boolean".into(),
            FieldType::Integer => "integer".into(),
            FieldType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
            FieldType::Double => "double".into(),
        }
    }

    /// The type a [`FieldType::label`] names.
    pub fn from_label(label: &str) -> Option<FieldType> {
        Some(match label {
            "text" => FieldType::Text,
            "timestamp" => FieldType::Timestamp,
            "date" => FieldType::Date,
            "boolean" => FieldType::Boolean,
            "integer" => FieldType::Integer,
            "double" => FieldType::Double,
            _ => {
                let (precision, scale) = label
                    .strip_prefix("decimal(")?
                    .strip_suffix(')')?
                    .split_once(',')?;
                FieldType::Decimal {
                    precision: precision.trim().parse().ok()?,
                    scale: scale.trim().parse().ok()?,
                }
            }
        })
    }
}

/// One standard (documented) field of a ServiceTracker object.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: FieldType,
    /// The values ServiceTracker documents for a picklist field (empty otherwise).
    /// Values outside this list still land; the inventory reports them.
    pub picklist: &'static [&'static str],
    /// For reference fields: the objects the value may point at.
    pub references: &'static [&'static str],
}

/// One ServiceTracker object and its standard fields, `id` first and
/// `created_at`, `modified_at` last, in export column order.
#[derive(Debug, Clone, Copy)]
pub struct Object {
    pub name: &'static str,
    /// Prefix of the object's ids, e.g. `CUS` in `CUS-000123`.
    pub id_prefix: &'static str,
    pub fields: &'static [Field],
    /// For polymorphic parents (`parent_type` + `parent_id`): which
    /// `parent_type` value points at which object.
    pub parent_types: &'static [(&'static str, &'static str)],
}

impl Object {
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn field_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fields.iter().map(|f| f.name)
    }
}

/// The export contract ferry shares with the generator and the emulator
/// (crates/servicetracker-*): each reads this same file with its own types.
const OBJECTS_JSON: &str = include_str!("servicetracker-objects.json");

/// Every ServiceTracker object, parents before children, as
/// `servicetracker-objects.json` lists them. Iterate it or index it like a
/// slice (`for o in OBJECTS`, `OBJECTS.len()`); the file is parsed once, on
/// first use.
pub const OBJECTS: Objects = Objects;

/// The handle behind [`OBJECTS`]: dereferences to the parsed objects.
#[derive(Debug, Clone, Copy)]
pub struct Objects;

impl std::ops::Deref for Objects {
    type Target = [Object];

    fn deref(&self) -> &[Object] {
        parsed()
    }
}

impl IntoIterator for Objects {
    type Item = &'static Object;
    type IntoIter = std::slice::Iter<'static, Object>;

    fn into_iter(self) -> Self::IntoIter {
        parsed().iter()
    }
}

pub fn object(name: &str) -> Option<&'static Object> {
    parsed().iter().find(|o| o.name == name)
}

/// The objects of `servicetracker-objects.json`, parsed on first use.
fn parsed() -> &'static [Object] {
    static PARSED: LazyLock<&'static [Object]> = LazyLock::new(|| {
        let model: ModelFile =
            serde_json::from_str(OBJECTS_JSON).expect("servicetracker-objects.json parses");
        assert_eq!(
            model.custom_field_prefix, CUSTOM_FIELD_PREFIX,
            "servicetracker-objects.json and CUSTOM_FIELD_PREFIX agree"
        );
        let objects: Vec<Object> = model
            .objects
            .into_iter()
            .map(ObjectFile::into_static)
            .collect();
        let leaked: &'static [Object] = objects.leak();
        leaked
    });
    *PARSED
}

/// Custom fields carry this prefix in CSV exports (SPEC §8.1); the model
/// file states the same (checked when it is parsed).
pub const CUSTOM_FIELD_PREFIX: &str = "cf_";

/// `servicetracker-objects.json` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    #[serde(rename = "$comment")]
    _comment: Option<String>,
    custom_field_prefix: String,
    objects: Vec<ObjectFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectFile {
    name: String,
    id_prefix: String,
    #[serde(default)]
    parent_types: Vec<(String, String)>,
    fields: Vec<FieldFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldFile {
    name: String,
    /// A [`FieldType::label`]: `text`, `decimal(19,4)`, ….
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    picklist: Vec<String>,
    #[serde(default)]
    references: Vec<String>,
}

/// The model lives as long as the process, so its strings are leaked once
/// into the `&'static` shape every caller borrows from.
fn leak(text: String) -> &'static str {
    text.leak()
}

fn leak_all(texts: Vec<String>) -> &'static [&'static str] {
    texts.into_iter().map(leak).collect::<Vec<_>>().leak()
}

impl ObjectFile {
    fn into_static(self) -> Object {
        let object = leak(self.name);
        Object {
            name: object,
            id_prefix: leak(self.id_prefix),
            fields: self
                .fields
                .into_iter()
                .map(|f| Field {
                    ty: FieldType::from_label(&f.ty).unwrap_or_else(|| {
                        panic!(
                            "servicetracker-objects.json: {object}.{} has the unknown type `{}`",
                            f.name, f.ty
                        )
                    }),
                    name: leak(f.name),
                    picklist: leak_all(f.picklist),
                    references: leak_all(f.references),
                })
                .collect::<Vec<_>>()
                .leak(),
            parent_types: self
                .parent_types
                .into_iter()
                .map(|(value, target)| (leak(value), leak(target)))
                .collect::<Vec<_>>()
                .leak(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The model file says what the Rust constants it replaced said
    /// (compared field by field when it was written): the same objects in
    /// the same order, the same field counts, and these spot values.
    #[test]
    fn the_model_file_holds_the_documented_model() {
        let names: Vec<&str> = OBJECTS.iter().map(|o| o.name).collect();
        assert_eq!(
            names,
            [
                "customers",
                "contacts",
                "sites",
                "technicians",
                "contracts",
                "parts",
                "work_orders",
                "work_order_parts",
                "dispatches",
                "attachments",
                "activities",
                "notes",
                "billing_history",
                "equipment",
                "equipment_sites",
                "workflows",
            ]
        );
        let field_counts: Vec<usize> = OBJECTS.iter().map(|o| o.fields.len()).collect();
        assert_eq!(
            field_counts,
            [18, 11, 15, 10, 13, 11, 16, 7, 9, 9, 13, 7, 8, 9, 5, 9]
        );
        assert_eq!(field_counts.iter().sum::<usize>(), 170);
        let work_orders = object("work_orders").unwrap();
        assert_eq!(work_orders.id_prefix, "WO");
        assert_eq!(
            work_orders.field("status").unwrap().picklist,
            [
                "Open",
                "In Progress",
                "On Hold",
                "Closed Complete",
                "Cancelled"
            ]
        );
        assert_eq!(
            work_orders
                .field("assigned_technician_id")
                .unwrap()
                .references,
            ["technicians"]
        );
        assert_eq!(
            object("parts")
                .unwrap()
                .field("quantity_on_hand")
                .unwrap()
                .ty,
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
            object("dispatches")
                .unwrap()
                .field("route_sequence")
                .unwrap()
                .ty,
            FieldType::Integer
        );
        assert_eq!(
            object("notes").unwrap().parent_types,
            [
                ("customer", "customers"),
                ("work_order", "work_orders"),
                ("contract", "contracts")
            ]
        );
        assert!(object("customers")
            .unwrap()
            .field("email")
            .unwrap()
            .picklist
            .is_empty());
    }

    #[test]
    fn every_object_has_id_first_and_timestamps_last() {
        for o in OBJECTS {
            assert_eq!(o.fields[0].name, "id", "{}", o.name);
            let n = o.fields.len();
            assert_eq!(o.fields[n - 2].name, "created_at", "{}", o.name);
            assert_eq!(o.fields[n - 1].name, "modified_at", "{}", o.name);
        }
    }

    #[test]
    fn references_point_at_known_objects() {
        for o in OBJECTS {
            for f in o.fields {
                for r in f.references {
                    assert!(object(r).is_some(), "{}.{} -> {r}", o.name, f.name);
                }
            }
            for (_, target) in o.parent_types {
                assert!(object(target).is_some());
            }
        }
    }
}
