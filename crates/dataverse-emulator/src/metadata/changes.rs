//! The bodies a client sends to change an org's schema, read as
//! Dataverse reads them: create table (`EntityMetadata` with its primary
//! name attribute), create column (`…AttributeMetadata`, or a one-to-many
//! relationship for a lookup), create key and `InsertOptionValue` — with
//! Dataverse's defaults and limits, and a 400 naming what is wrong.

use super::*;

// ---------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------

/// An `InsertOptionValue` request for a local choice column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsertOption {
    pub table: String,
    pub column: String,
    /// `None`: Dataverse picks the next value in the publisher's range.
    pub value: Option<i32>,
    pub label: String,
}

pub(super) fn object<'a>(body: &'a Value, what: &str) -> Result<&'a Map<String, Value>, DvError> {
    body.as_object()
        .ok_or_else(|| DvError::bad_request(format!("The {what} must be a JSON object.")))
}

pub(super) fn required_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a str, DvError> {
    obj.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| DvError::bad_request(format!("{key} is required.")))
}

pub(super) fn optional_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, DvError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(DvError::bad_request(format!(
            "{key} must be a string, not {other}."
        ))),
    }
}

pub(super) fn optional_number(obj: &Map<String, Value>, key: &str) -> Result<Option<f64>, DvError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(DvError::bad_request(format!(
            "{key} must be a number, not {other}."
        ))),
    }
}

pub(super) fn optional_int(obj: &Map<String, Value>, key: &str) -> Result<Option<i64>, DvError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| DvError::bad_request(format!("{key} must be an integer, not {v}."))),
    }
}

/// A value that is either `{"Value": "x"}` (how managed and enum-like
/// properties are sent) or plain `"x"`.
pub(super) fn value_or_string<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    match obj.get(key)? {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("Value").and_then(Value::as_str),
        _ => None,
    }
}

/// The text of a `Label`: the user's localized label, else the English
/// one, else the first.
pub(super) fn label_text(label: Option<&Value>) -> Option<String> {
    let label = label?;
    if let Some(text) = label
        .get("UserLocalizedLabel")
        .and_then(|l| l.get("Label"))
        .and_then(Value::as_str)
    {
        return Some(text.to_string());
    }
    let localized = label.get("LocalizedLabels")?.as_array()?;
    localized
        .iter()
        .find(|l| l.get("LanguageCode").and_then(Value::as_i64) == Some(LANGUAGE_CODE))
        .or_else(|| localized.first())
        .and_then(|l| l.get("Label"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A custom component's logical name from its schema name. Dataverse
/// requires custom tables, columns and keys to carry the publisher's
/// customization prefix (`new_BankName`) and lower-cases the schema name
/// to get the logical name ("Create and update column definitions").
pub(super) fn logical_from_schema_name(schema_name: &str) -> Result<String, DvError> {
    let valid_chars = schema_name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_');
    let starts_with_letter = schema_name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic());
    if !valid_chars || !starts_with_letter {
        return Err(DvError::bad_request(format!(
            "Invalid SchemaName '{schema_name}': only letters, digits and underscores, starting with a letter."
        )));
    }
    match schema_name.split_once('_') {
        Some((prefix, rest)) if !prefix.is_empty() && !rest.is_empty() => {
            Ok(schema_name.to_ascii_lowercase())
        }
        _ => Err(DvError::bad_request(format!(
            "Invalid SchemaName '{schema_name}': a custom name must start with the publisher's customization prefix and an underscore."
        ))),
    }
}

pub(super) fn required_level_from(obj: &Map<String, Value>) -> Result<RequiredLevel, DvError> {
    match value_or_string(obj, "RequiredLevel") {
        None => Ok(RequiredLevel::None),
        Some(level) => serde_json::from_value(json!(level))
            .map_err(|_| DvError::bad_request(format!("Unknown RequiredLevel '{level}'."))),
    }
}

pub(super) fn column_type_from_name(name: &str) -> Option<ColumnType> {
    serde_json::from_value(json!(name)).ok()
}

pub(super) fn type_from_metadata_name(name: &str) -> Option<ColumnType> {
    Some(match name {
        "StringAttributeMetadata" => ColumnType::String,
        "MemoAttributeMetadata" => ColumnType::Memo,
        "IntegerAttributeMetadata" => ColumnType::Integer,
        "BigIntAttributeMetadata" => ColumnType::BigInt,
        "DecimalAttributeMetadata" => ColumnType::Decimal,
        "DoubleAttributeMetadata" => ColumnType::Double,
        "MoneyAttributeMetadata" => ColumnType::Money,
        "BooleanAttributeMetadata" => ColumnType::Boolean,
        "DateTimeAttributeMetadata" => ColumnType::DateTime,
        "LookupAttributeMetadata" => ColumnType::Lookup,
        "PicklistAttributeMetadata" => ColumnType::Picklist,
        "MultiSelectPicklistAttributeMetadata" => ColumnType::MultiSelectPicklist,
        "StateAttributeMetadata" => ColumnType::State,
        "StatusAttributeMetadata" => ColumnType::Status,
        "UniqueIdentifierAttributeMetadata" => ColumnType::Uniqueidentifier,
        "EntityNameAttributeMetadata" => ColumnType::EntityName,
        "ImageAttributeMetadata" => ColumnType::Image,
        _ => return None,
    })
}

/// The column type a create body asks for: `@odata.type` decides (the
/// Web API needs it to pick the derived type), `AttributeType` must agree
/// and is used alone only when the type annotation is missing.
pub(super) fn requested_type(obj: &Map<String, Value>) -> Result<ColumnType, DvError> {
    let declared = optional_str(obj, "AttributeType")?;
    let annotated = optional_str(obj, "@odata.type")?.map(bare_type_name);
    let column_type = match annotated {
        Some(name) => type_from_metadata_name(name).ok_or_else(|| {
            DvError::bad_request(format!("Unsupported attribute type {CRM}{name}."))
        })?,
        None => {
            let name = declared.ok_or_else(|| {
                DvError::bad_request("@odata.type is required (e.g. Microsoft.Dynamics.CRM.StringAttributeMetadata).")
            })?;
            column_type_from_name(name).ok_or_else(|| {
                DvError::bad_request(format!("Unsupported AttributeType '{name}'."))
            })?
        }
    };
    if let Some(declared) = declared {
        let matches = declared == attribute_type(column_type)
            || declared == column_type.as_str()
            // A lookup type annotation stands for all its kinds.
            || (column_type == ColumnType::Lookup
                && matches!(declared, "Customer" | "Owner" | "PartyList"));
        if !matches {
            return Err(DvError::bad_request(format!(
                "AttributeType '{declared}' does not match @odata.type {CRM}{}.",
                metadata_type(column_type)
            )));
        }
    }
    Ok(column_type)
}

/// Reads `MinValue`/`MaxValue` within the type's limits.
pub(super) fn range(obj: &Map<String, Value>, lo: f64, hi: f64) -> Result<(f64, f64), DvError> {
    let min = optional_number(obj, "MinValue")?.unwrap_or(lo);
    let max = optional_number(obj, "MaxValue")?.unwrap_or(hi);
    if min < lo || max > hi || min > max {
        return Err(DvError::bad_request(format!(
            "MinValue {min} and MaxValue {max} must lie within {lo} and {hi}, in order."
        )));
    }
    Ok((min, max))
}

pub(super) fn precision(obj: &Map<String, Value>, default: u32, most: u32) -> Result<u32, DvError> {
    match optional_int(obj, "Precision")? {
        None => Ok(default),
        Some(p) if (0..=i64::from(most)).contains(&p) => Ok(p as u32),
        Some(p) => Err(DvError::bad_request(format!(
            "Precision {p} is out of range: 0 to {most}."
        ))),
    }
}

pub(super) fn max_length(
    obj: &Map<String, Value>,
    default: i64,
    most: i64,
) -> Result<i64, DvError> {
    match optional_int(obj, "MaxLength")? {
        None => Ok(default),
        Some(n) if (1..=most).contains(&n) => Ok(n),
        Some(n) => Err(DvError::bad_request(format!(
            "MaxLength {n} is out of range: 1 to {most}."
        ))),
    }
}

/// The options of a new choice column. Options sent without a value are
/// numbered from the publisher's range, as Dataverse does.
pub(super) fn choice_options(obj: &Map<String, Value>) -> Result<Vec<OptionValue>, DvError> {
    if obj.contains_key("GlobalOptionSet@odata.bind") || obj.contains_key("GlobalOptionSet") {
        return Err(DvError::bad_request(
            "Global option sets are not supported by the emulator; define the options locally in OptionSet.Options.",
        ));
    }
    let Some(set) = obj.get("OptionSet").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let set = object(set, "OptionSet")?;
    let items = match set.get("Options") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(DvError::bad_request("OptionSet.Options must be an array.")),
    };
    let mut options: Vec<OptionValue> = Vec::with_capacity(items.len());
    let mut unnumbered = Vec::new();
    for item in items {
        let item = object(item, "option")?;
        let label = label_text(item.get("Label"))
            .filter(|l| !l.trim().is_empty())
            .ok_or_else(|| DvError::bad_request("Every option needs a Label."))?;
        match optional_int(item, "Value")? {
            Some(v) => {
                let value = i32::try_from(v).map_err(|_| {
                    DvError::bad_request(format!("Option value {v} is out of range."))
                })?;
                if options.iter().any(|o| o.value == value) {
                    return Err(DvError::bad_request(format!(
                        "Option value {value} is given twice."
                    )));
                }
                options.push(OptionValue {
                    value,
                    label,
                    state: None,
                    default_status: None,
                });
            }
            None => unnumbered.push(label),
        }
    }
    for label in unnumbered {
        let value = options
            .iter()
            .map(|o| o.value)
            .filter(|v| *v >= PUBLISHER_OPTION_VALUE_BASE)
            .max()
            .map_or(Some(PUBLISHER_OPTION_VALUE_BASE), |v| v.checked_add(1))
            .ok_or_else(|| DvError::bad_request("No option value is left for a new option."))?;
        options.push(OptionValue {
            value,
            label,
            state: None,
            default_status: None,
        });
    }
    Ok(options)
}

/// A boolean column's two labels (`OptionSet.TrueOption`/`FalseOption`).
pub(super) fn boolean_options(obj: &Map<String, Value>) -> Vec<OptionValue> {
    let set = obj.get("OptionSet");
    let label = |which: &str, fallback: &str| {
        label_text(set.and_then(|s| s.get(which)).and_then(|o| o.get("Label")))
            .unwrap_or_else(|| fallback.to_string())
    };
    [
        (1, label("TrueOption", "Yes")),
        (0, label("FalseOption", "No")),
    ]
    .into_iter()
    .map(|(value, label)| OptionValue {
        value,
        label,
        state: None,
        default_status: None,
    })
    .collect()
}

/// A column from the body of `POST EntityDefinitions(LogicalName='t')/Attributes`
/// (or one of the `Attributes` of a create-table body).
///
/// Values the body leaves out get Dataverse's defaults (text 100
/// characters, memo 2,000, two decimal places, the type's full range,
/// UserLocal date-times). Lookups are accepted with their `Targets` so a
/// relationship's `Lookup` can be read too ([`column_from_relationship_metadata`]);
/// on a real org a lookup column is created only through a relationship,
/// so `api.rs` decides whether its route allows one. State, status, owner,
/// customer, party-list, id and entity-name columns are the platform's
/// and cannot be created.
pub fn column_from_attribute_metadata(body: &Value) -> Result<Column, DvError> {
    let obj = object(body, "attribute definition")?;
    let schema_name = required_str(obj, "SchemaName")?;
    let name = logical_from_schema_name(schema_name)?;
    let column_type = requested_type(obj)?;
    let mut column = Column {
        name,
        column_type,
        max_length: None,
        required_level: required_level_from(obj)?,
        targets: Vec::new(),
        options: Vec::new(),
        format: None,
        behavior: None,
        min: None,
        max: None,
        precision: None,
        valid_for_create: Some(true),
        valid_for_update: Some(true),
        custom: true,
    };
    let format = value_or_string(obj, "FormatName")
        .or_else(|| value_or_string(obj, "Format"))
        .map(str::to_string);
    match column_type {
        ColumnType::String => {
            column.max_length = Some(max_length(obj, 100, 4000)?);
            column.format = format.or_else(|| Some("Text".to_string()));
        }
        ColumnType::Memo => {
            column.max_length = Some(max_length(obj, 2000, 1_048_576)?);
            column.format = format.or_else(|| Some("TextArea".to_string()));
        }
        ColumnType::Integer => {
            let (min, max) = range(obj, f64::from(i32::MIN), f64::from(i32::MAX))?;
            (column.min, column.max) = (Some(min), Some(max));
            column.format = format.filter(|f| f != "None");
        }
        ColumnType::BigInt => {
            let (min, max) = range(obj, i64::MIN as f64, i64::MAX as f64)?;
            (column.min, column.max) = (Some(min), Some(max));
        }
        ColumnType::Decimal => {
            let (min, max) = range(obj, -100_000_000_000.0, 100_000_000_000.0)?;
            (column.min, column.max) = (Some(min), Some(max));
            column.precision = Some(precision(obj, 2, 10)?);
        }
        ColumnType::Double => {
            let (min, max) = range(obj, -100_000_000_000.0, 100_000_000_000.0)?;
            (column.min, column.max) = (Some(min), Some(max));
            column.precision = Some(precision(obj, 2, 5)?);
        }
        ColumnType::Money => {
            let (min, max) = range(obj, -922_337_203_685_477.0, 922_337_203_685_477.0)?;
            (column.min, column.max) = (Some(min), Some(max));
            column.precision = Some(precision(obj, 2, 4)?);
        }
        ColumnType::DateTime => {
            let behavior = value_or_string(obj, "DateTimeBehavior").unwrap_or("UserLocal");
            if !matches!(behavior, "UserLocal" | "DateOnly" | "TimeZoneIndependent") {
                return Err(DvError::bad_request(format!(
                    "Unknown DateTimeBehavior '{behavior}'."
                )));
            }
            let format = format.unwrap_or_else(|| {
                if behavior == "DateOnly" {
                    "DateOnly".to_string()
                } else {
                    "DateAndTime".to_string()
                }
            });
            if behavior == "DateOnly" && format != "DateOnly" {
                return Err(DvError::bad_request(
                    "A DateOnly behaviour needs the DateOnly format.",
                ));
            }
            column.format = Some(format);
            column.behavior = Some(behavior.to_string());
        }
        ColumnType::Boolean => column.options = boolean_options(obj),
        ColumnType::Picklist | ColumnType::MultiSelectPicklist => {
            column.options = choice_options(obj)?;
        }
        ColumnType::Lookup => {
            column.targets = match obj.get("Targets") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|t| {
                        t.as_str()
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .ok_or_else(|| DvError::bad_request("Targets must be table names."))
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(DvError::bad_request("Targets must be an array.")),
            };
        }
        ColumnType::Image => {}
        ColumnType::Customer
        | ColumnType::Owner
        | ColumnType::PartyList
        | ColumnType::State
        | ColumnType::Status
        | ColumnType::Uniqueidentifier
        | ColumnType::EntityName => {
            return Err(DvError::bad_request(format!(
                "Attributes of type {} cannot be created this way.",
                column_type.as_str()
            )));
        }
    }
    Ok(column)
}

/// The lookup column a `POST RelationshipDefinitions` body creates (a
/// `OneToManyRelationshipMetadata` with its `Lookup`), and the table it is
/// created on (`ReferencingEntity`). Its target is the `ReferencedEntity`.
pub fn column_from_relationship_metadata(body: &Value) -> Result<(String, Column), DvError> {
    let obj = object(body, "relationship definition")?;
    let referenced = required_str(obj, "ReferencedEntity")?;
    let referencing = required_str(obj, "ReferencingEntity")?;
    let lookup = obj
        .get("Lookup")
        .ok_or_else(|| DvError::bad_request("Lookup is required."))?;
    let mut column = column_from_attribute_metadata(lookup)?;
    if column.column_type != ColumnType::Lookup {
        return Err(DvError::bad_request(
            "The Lookup of a relationship must be a LookupAttributeMetadata.",
        ));
    }
    column.targets = vec![referenced.to_string()];
    Ok((referencing.to_string(), column))
}

/// The columns Dataverse gives every new table beside the ones the body
/// defines, in the shape of ferry's own custom tables in `tables.json`.
pub(super) fn system_columns(logical: &str, ownership: Ownership) -> (Column, Vec<Column>) {
    let base = |name: &str, column_type: ColumnType, level: RequiredLevel| Column {
        name: name.to_string(),
        column_type,
        max_length: None,
        required_level: level,
        targets: Vec::new(),
        options: Vec::new(),
        format: None,
        behavior: None,
        min: None,
        max: None,
        precision: None,
        valid_for_create: Some(true),
        valid_for_update: Some(true),
        custom: true,
    };
    let option =
        |value: i32, label: &str, state: Option<i32>, default_status: Option<i32>| OptionValue {
            value,
            label: label.to_string(),
            state,
            default_status,
        };
    let id = Column {
        valid_for_update: Some(false),
        ..base(
            &format!("{logical}id"),
            ColumnType::Uniqueidentifier,
            RequiredLevel::SystemRequired,
        )
    };
    let mut rest = Vec::new();
    if ownership == Ownership::UserOwned {
        rest.push(Column {
            targets: vec!["systemuser".to_string(), "team".to_string()],
            ..base("ownerid", ColumnType::Owner, RequiredLevel::SystemRequired)
        });
        rest.push(base(
            "owneridtype",
            ColumnType::EntityName,
            RequiredLevel::SystemRequired,
        ));
    }
    rest.push(Column {
        options: vec![
            option(0, "Active", None, Some(1)),
            option(1, "Inactive", None, Some(2)),
        ],
        valid_for_create: Some(false),
        ..base(
            "statecode",
            ColumnType::State,
            RequiredLevel::SystemRequired,
        )
    });
    rest.push(Column {
        options: vec![
            option(1, "Active", Some(0), None),
            option(2, "Inactive", Some(1), None),
        ],
        ..base("statuscode", ColumnType::Status, RequiredLevel::None)
    });
    rest.push(Column {
        format: Some("DateOnly".to_string()),
        behavior: Some("UserLocal".to_string()),
        valid_for_update: Some(false),
        ..base(
            "overriddencreatedon",
            ColumnType::DateTime,
            RequiredLevel::None,
        )
    });
    (id, rest)
}

/// A table from the body of `POST EntityDefinitions`.
///
/// The body must define the primary name column among its `Attributes`
/// (a text column with `IsPrimaryName: true`). The primary id is
/// `<logical name>id`; the entity set is the logical name plus "s" unless
/// `EntitySetName` says otherwise; ownership is user unless the body says
/// `OrganizationOwned`. Owner, state, status and `overriddencreatedon`
/// columns are added as Dataverse adds them. `Keys`, if present, are kept.
pub fn table_from_entity_metadata(body: &Value) -> Result<Table, DvError> {
    let obj = object(body, "entity definition")?;
    let schema_name = required_str(obj, "SchemaName")?;
    let logical = logical_from_schema_name(schema_name)?;
    if obj.get("IsActivity").and_then(Value::as_bool) == Some(true) {
        return Err(DvError::bad_request(
            "Activity tables are not supported by the emulator.",
        ));
    }
    let ownership = match optional_str(obj, "OwnershipType")? {
        None | Some("UserOwned") => Ownership::UserOwned,
        Some("OrganizationOwned") => Ownership::OrganizationOwned,
        Some(other) => {
            return Err(DvError::bad_request(format!(
                "OwnershipType '{other}' cannot be used for a new table: UserOwned or OrganizationOwned."
            )))
        }
    };
    let attributes = match obj.get("Attributes") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => {
            return Err(DvError::bad_request(
                "The entity definition must include its primary name attribute in Attributes.",
            ))
        }
    };
    let (id, system) = system_columns(&logical, ownership);
    let mut columns = vec![id];
    let mut primary_name = None;
    for attribute in attributes {
        let column = column_from_attribute_metadata(attribute)?;
        if attribute.get("IsPrimaryName").and_then(Value::as_bool) == Some(true) {
            if column.column_type != ColumnType::String {
                return Err(DvError::bad_request(
                    "The primary name attribute must be a StringAttributeMetadata.",
                ));
            }
            if primary_name.is_some() {
                return Err(DvError::bad_request(
                    "Only one attribute can be the primary name.",
                ));
            }
            primary_name = Some(column.name.clone());
        }
        columns.push(column);
    }
    let primary_name = primary_name.ok_or_else(|| {
        DvError::bad_request("One attribute must be the primary name (IsPrimaryName: true).")
    })?;
    columns.extend(system);
    let mut seen = BTreeSet::new();
    for column in &columns {
        if !seen.insert(column.name.as_str()) {
            return Err(DvError::bad_request(format!(
                "The attribute {} is defined twice (or is one Dataverse adds itself).",
                column.name
            )));
        }
    }
    let mut keys = Vec::new();
    if let Some(items) = obj.get("Keys").and_then(Value::as_array) {
        for item in items {
            let (name, key_columns) = key_from_metadata(item)?;
            if let Some(missing) = key_columns.iter().find(|c| !seen.contains(c.as_str())) {
                return Err(DvError::bad_request(format!(
                    "Key {name} names {missing}, which the table does not have."
                )));
            }
            keys.push(AlternateKey {
                name,
                columns: key_columns,
            });
        }
    }
    let entity_set_name = match optional_str(obj, "EntitySetName")? {
        Some(set) if !set.trim().is_empty() => set.trim().to_string(),
        _ => format!("{logical}s"),
    };
    Ok(Table {
        primary_id: format!("{logical}id"),
        logical_name: logical,
        entity_set_name,
        primary_name,
        ownership,
        columns,
        keys,
        custom: true,
    })
}

/// The body of the `InsertOptionValue` action, for a local option set
/// (`EntityLogicalName` + `AttributeLogicalName`). The response is
/// `{"NewOptionValue": n}` (`InsertOptionValueResponse`).
pub fn parse_insert_option_value(body: &Value) -> Result<InsertOption, DvError> {
    let obj = object(body, "InsertOptionValue request")?;
    let table = optional_str(obj, "EntityLogicalName")?.filter(|s| !s.is_empty());
    let column = optional_str(obj, "AttributeLogicalName")?.filter(|s| !s.is_empty());
    let (table, column) = match (table, column) {
        (Some(t), Some(c)) => (t, c),
        _ if optional_str(obj, "OptionSetName")?.is_some() => {
            return Err(DvError::bad_request(
                "Global option sets are not supported by the emulator; give EntityLogicalName and AttributeLogicalName.",
            ))
        }
        _ => {
            return Err(DvError::bad_request(
                "EntityLogicalName and AttributeLogicalName are required.",
            ))
        }
    };
    let value = optional_int(obj, "Value")?
        .map(|v| {
            i32::try_from(v)
                .map_err(|_| DvError::bad_request(format!("Value {v} is out of range.")))
        })
        .transpose()?;
    let label = label_text(obj.get("Label"))
        .filter(|l| !l.trim().is_empty())
        .ok_or_else(|| DvError::bad_request("Label is required."))?;
    Ok(InsertOption {
        table: table.to_string(),
        column: column.to_string(),
        value,
        label,
    })
}

/// The body of `POST EntityDefinitions(LogicalName='t')/Keys` (an
/// `EntityKeyMetadata`): the key's logical name and its columns.
pub fn key_from_metadata(body: &Value) -> Result<(String, Vec<String>), DvError> {
    let obj = object(body, "key definition")?;
    let name = logical_from_schema_name(required_str(obj, "SchemaName")?)?;
    let columns: Vec<String> = match obj.get("KeyAttributes") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|c| {
                c.as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .ok_or_else(|| DvError::bad_request("KeyAttributes must be column names."))
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(DvError::bad_request(
                "KeyAttributes must list at least one column.",
            ))
        }
    };
    Ok((name, columns))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::test_support::*;

    #[test]
    fn key_bodies_need_a_name_and_columns() {
        assert!(key_from_metadata(&json!({"KeyAttributes": ["a"]})).is_err());
        assert!(key_from_metadata(&json!({"SchemaName": "st_K", "KeyAttributes": []})).is_err());
        assert!(key_from_metadata(&json!({"SchemaName": "st_K", "KeyAttributes": [1]})).is_err());
        assert!(
            key_from_metadata(&json!({"SchemaName": "NoPrefix", "KeyAttributes": ["a"]})).is_err()
        );
    }

    /// The body of Microsoft's "Create a string column" example.
    fn bank_name_body() -> Value {
        json!({
            "AttributeType": "String",
            "AttributeTypeName": {"Value": "StringType"},
            "Description": {
                "@odata.type": "Microsoft.Dynamics.CRM.Label",
                "LocalizedLabels": [{"@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel",
                    "Label": "Type the name of the bank", "LanguageCode": 1033}]
            },
            "DisplayName": {
                "@odata.type": "Microsoft.Dynamics.CRM.Label",
                "LocalizedLabels": [{"@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel",
                    "Label": "Bank Name", "LanguageCode": 1033}]
            },
            "RequiredLevel": {"Value": "None", "CanBeChanged": true,
                "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings"},
            "SchemaName": "st_BankName",
            "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
            "FormatName": {"Value": "Text"},
            "MaxLength": 100
        })
    }

    #[test]
    fn a_created_string_column_reads_back() {
        let mut s = schema();
        let column = column_from_attribute_metadata(&bank_name_body()).unwrap();
        assert_eq!(column.name, "st_bankname");
        assert_eq!(column.column_type, ColumnType::String);
        assert_eq!(column.max_length, Some(100));
        assert!(column.custom);
        s.add_column("account", column).unwrap();
        let account = entity_definition(&s, BASE, "account", true).unwrap();
        let bank = attribute(&account, "st_bankname");
        assert_eq!(
            bank["@odata.type"],
            "#Microsoft.Dynamics.CRM.StringAttributeMetadata"
        );
        assert_eq!(bank["MaxLength"], 100);
        assert_eq!(bank["FormatName"]["Value"], "Text");
        assert_eq!(bank["RequiredLevel"]["Value"], "None");
        assert_eq!(bank["IsCustomAttribute"], true);
        assert_eq!(bank["IsValidForCreate"], true);
        // Creating it twice is the schema's to refuse.
        let again = column_from_attribute_metadata(&bank_name_body()).unwrap();
        assert!(s.add_column("account", again).is_err());
    }

    #[test]
    fn column_bodies_get_defaults_and_limits() {
        let decimal = column_from_attribute_metadata(&json!({
            "@odata.type": "#Microsoft.Dynamics.CRM.DecimalAttributeMetadata",
            "SchemaName": "st_Quantity", "Precision": 4, "MinValue": 0
        }))
        .unwrap();
        assert_eq!(decimal.precision, Some(4));
        assert_eq!(decimal.min, Some(0.0));
        assert_eq!(decimal.max, Some(100_000_000_000.0));
        let date = column_from_attribute_metadata(&json!({
            "@odata.type": "Microsoft.Dynamics.CRM.DateTimeAttributeMetadata",
            "SchemaName": "st_Installed", "DateTimeBehavior": {"Value": "DateOnly"}
        }))
        .unwrap();
        assert!(date.is_date_only());
        assert_eq!(date.format.as_deref(), Some("DateOnly"));
        let memo = column_from_attribute_metadata(&json!({
            "@odata.type": "Microsoft.Dynamics.CRM.MemoAttributeMetadata",
            "SchemaName": "st_Notes", "RequiredLevel": {"Value": "ApplicationRequired"}
        }))
        .unwrap();
        assert_eq!(memo.max_length, Some(2000));
        assert!(memo.is_required());
        let flag = column_from_attribute_metadata(&json!({
            "@odata.type": "Microsoft.Dynamics.CRM.BooleanAttributeMetadata",
            "SchemaName": "st_Active",
            "OptionSet": {
                "TrueOption": {"Value": 1, "Label": {"LocalizedLabels": [{"Label": "On", "LanguageCode": 1033}]}},
                "FalseOption": {"Value": 0, "Label": {"LocalizedLabels": [{"Label": "Off", "LanguageCode": 1033}]}}
            }
        }))
        .unwrap();
        assert_eq!(flag.option(1).unwrap().label, "On");
        assert_eq!(flag.option(0).unwrap().label, "Off");

        let refuse = |body: Value| column_from_attribute_metadata(&body).unwrap_err().status;
        // No schema name, no prefix, no type, a type mismatch, platform types,
        // lengths and ranges out of bounds, a global option set.
        assert_eq!(
            refuse(json!({"@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata"})),
            400
        );
        assert_eq!(
            refuse(
                json!({"@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", "SchemaName": "BankName"})
            ),
            400
        );
        assert_eq!(refuse(json!({"SchemaName": "st_X"})), 400);
        assert_eq!(
            refuse(
                json!({"@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", "SchemaName": "st_X", "AttributeType": "Memo"})
            ),
            400
        );
        assert_eq!(
            refuse(
                json!({"@odata.type": "Microsoft.Dynamics.CRM.StatusAttributeMetadata", "SchemaName": "st_X"})
            ),
            400
        );
        assert_eq!(
            refuse(
                json!({"@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", "SchemaName": "st_X", "MaxLength": 4001})
            ),
            400
        );
        assert_eq!(
            refuse(
                json!({"@odata.type": "Microsoft.Dynamics.CRM.IntegerAttributeMetadata", "SchemaName": "st_X", "MinValue": 5, "MaxValue": 1})
            ),
            400
        );
        assert_eq!(
            refuse(
                json!({"@odata.type": "Microsoft.Dynamics.CRM.DecimalAttributeMetadata", "SchemaName": "st_X", "Precision": 11})
            ),
            400
        );
        assert_eq!(
            refuse(
                json!({"@odata.type": "Microsoft.Dynamics.CRM.PicklistAttributeMetadata", "SchemaName": "st_X", "GlobalOptionSet@odata.bind": "/GlobalOptionSetDefinitions(00000000-0000-0000-0000-000000000000)"})
            ),
            400
        );
        assert_eq!(refuse(json!("not an object")), 400);
    }

    #[test]
    fn picklist_bodies_number_their_options_in_the_publisher_range() {
        let kind = column_from_attribute_metadata(&json!({
            "@odata.type": "Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
            "SchemaName": "st_Kind",
            "OptionSet": {
                "@odata.type": "Microsoft.Dynamics.CRM.OptionSetMetadata",
                "IsGlobal": false, "OptionSetType": "Picklist",
                "Options": [
                    {"Value": null, "Label": {"LocalizedLabels": [{"Label": "Repair", "LanguageCode": 1033}]}},
                    {"Label": {"LocalizedLabels": [{"Label": "Install", "LanguageCode": 1033}]}},
                    {"Value": 100000005, "Label": {"LocalizedLabels": [{"Label": "Inspect", "LanguageCode": 1033}]}}
                ]
            }
        }))
        .unwrap();
        let values: Vec<(i32, &str)> = kind
            .options
            .iter()
            .map(|o| (o.value, o.label.as_str()))
            .collect();
        assert_eq!(
            values,
            [
                (100_000_005, "Inspect"),
                (100_000_006, "Repair"),
                (100_000_007, "Install")
            ]
        );
        let unlabeled = column_from_attribute_metadata(&json!({
            "@odata.type": "Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
            "SchemaName": "st_Kind",
            "OptionSet": {"Options": [{"Value": 1}]}
        }));
        assert!(unlabeled.is_err());
    }

    #[test]
    fn a_relationship_creates_a_lookup() {
        let (table, column) = column_from_relationship_metadata(&json!({
            "SchemaName": "st_account_st_equipment",
            "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
            "ReferencedEntity": "account",
            "ReferencedAttribute": "accountid",
            "ReferencingEntity": "st_equipment",
            "Lookup": {
                "AttributeType": "Lookup",
                "AttributeTypeName": {"Value": "LookupType"},
                "RequiredLevel": {"Value": "None"},
                "SchemaName": "st_ParentAccount",
                "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata"
            }
        }))
        .unwrap();
        assert_eq!(table, "st_equipment");
        assert_eq!(column.name, "st_parentaccount");
        assert_eq!(column.targets, ["account"]);
        assert!(column.is_lookup());
        assert!(
            column_from_relationship_metadata(&json!({"ReferencedEntity": "account"})).is_err()
        );
    }

    /// After Microsoft's "Create a table" example (sample_BankAccount).
    fn bank_account_body() -> Value {
        json!({
            "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
            "Attributes": [
                {
                    "AttributeType": "String",
                    "AttributeTypeName": {"Value": "StringType"},
                    "Description": {"LocalizedLabels": [{"Label": "Type the name of the bank account", "LanguageCode": 1033}]},
                    "DisplayName": {"LocalizedLabels": [{"Label": "Account Name", "LanguageCode": 1033}]},
                    "IsPrimaryName": true,
                    "RequiredLevel": {"Value": "None", "CanBeChanged": true,
                        "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings"},
                    "SchemaName": "st_Name",
                    "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                    "FormatName": {"Value": "Text"},
                    "MaxLength": 100
                },
                {
                    "@odata.type": "Microsoft.Dynamics.CRM.MoneyAttributeMetadata",
                    "SchemaName": "st_Balance", "Precision": 2
                }
            ],
            "Description": {"LocalizedLabels": [{"Label": "A table to store information about customer bank accounts", "LanguageCode": 1033}]},
            "DisplayCollectionName": {"LocalizedLabels": [{"Label": "Bank Accounts", "LanguageCode": 1033}]},
            "DisplayName": {"LocalizedLabels": [{"Label": "Bank Account", "LanguageCode": 1033}]},
            "HasActivities": false,
            "HasNotes": false,
            "IsActivity": false,
            "OwnershipType": "UserOwned",
            "SchemaName": "st_BankAccount",
            "Keys": [{"SchemaName": "st_BankAccountName", "KeyAttributes": ["st_name"]}]
        })
    }

    #[test]
    fn a_created_table_is_served() {
        let mut s = schema();
        let table = table_from_entity_metadata(&bank_account_body()).unwrap();
        assert_eq!(table.logical_name, "st_bankaccount");
        assert_eq!(table.entity_set_name, "st_bankaccounts");
        assert_eq!(table.primary_id, "st_bankaccountid");
        assert_eq!(table.primary_name, "st_name");
        assert_eq!(table.ownership, Ownership::UserOwned);
        assert!(table.custom);
        for name in [
            "st_bankaccountid",
            "st_name",
            "st_balance",
            "ownerid",
            "owneridtype",
            "statecode",
            "statuscode",
            "overriddencreatedon",
        ] {
            assert!(table.column(name).is_some(), "no {name}");
        }
        assert_eq!(
            table.column("statuscode").unwrap().option(2).unwrap().state,
            Some(1)
        );
        assert_eq!(table.keys[0].name, "st_bankaccountname");
        s.add_table(table).unwrap();
        assert_eq!(
            s.table_by_entity_set("st_bankaccounts")
                .unwrap()
                .logical_name,
            "st_bankaccount"
        );
        let served = entity_definition(&s, BASE, "st_bankaccount", true).unwrap();
        assert_eq!(served["IsCustomEntity"], true);
        assert_eq!(served["PrimaryNameAttribute"], "st_name");
        assert!(served["ObjectTypeCode"].as_i64().unwrap() >= 10_000);
        assert_eq!(attribute(&served, "st_balance")["Precision"], 2);
        assert_eq!(
            keys(&s, "st_bankaccount").unwrap()["value"][0]["KeyAttributes"],
            json!(["st_name"])
        );

        let mut named = bank_account_body();
        named["EntitySetName"] = json!("st_banks");
        named["OwnershipType"] = json!("OrganizationOwned");
        let org_owned = table_from_entity_metadata(&named).unwrap();
        assert_eq!(org_owned.entity_set_name, "st_banks");
        assert!(org_owned.column("ownerid").is_none());
    }

    #[test]
    fn table_bodies_need_a_primary_name() {
        let refuse = |edit: &dyn Fn(&mut Value)| {
            let mut body = bank_account_body();
            edit(&mut body);
            table_from_entity_metadata(&body).unwrap_err().status
        };
        assert_eq!(
            refuse(&|b| b["Attributes"][0]["IsPrimaryName"] = json!(false)),
            400
        );
        assert_eq!(refuse(&|b| b["Attributes"] = json!([])), 400);
        assert_eq!(
            refuse(&|b| b["Attributes"][1]["IsPrimaryName"] = json!(true)),
            400
        );
        assert_eq!(refuse(&|b| b["SchemaName"] = json!("BankAccount")), 400);
        assert_eq!(refuse(&|b| b["IsActivity"] = json!(true)), 400);
        assert_eq!(
            refuse(&|b| b["OwnershipType"] = json!("BusinessOwned")),
            400
        );
        // The id column is Dataverse's to add.
        assert_eq!(
            refuse(&|b| b["Attributes"][1]["SchemaName"] = json!("st_BankAccountId")),
            400
        );
        assert_eq!(
            refuse(&|b| b["Keys"] = json!([{"SchemaName": "st_K", "KeyAttributes": ["st_nope"]}])),
            400
        );
        assert_eq!(
            refuse(&|b| b["Attributes"][1]["SchemaName"] = json!("st_Name")),
            400
        );
    }

    #[test]
    fn insert_option_value_bodies() {
        let body = json!({
            "EntityLogicalName": "incident",
            "AttributeLogicalName": "prioritycode",
            "Value": 100000000,
            "Label": {
                "@odata.type": "Microsoft.Dynamics.CRM.Label",
                "LocalizedLabels": [{"@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel",
                    "Label": "Critical", "LanguageCode": 1033}]
            }
        });
        let insert = parse_insert_option_value(&body).unwrap();
        assert_eq!(
            insert,
            InsertOption {
                table: "incident".into(),
                column: "prioritycode".into(),
                value: Some(100_000_000),
                label: "Critical".into(),
            }
        );
        let mut s = schema();
        assert_eq!(
            s.insert_option(&insert.table, &insert.column, insert.value, &insert.label),
            Ok(100_000_000)
        );
        let priority =
            attribute_with_optionset(&s, "incident", "prioritycode", "PicklistAttributeMetadata")
                .unwrap();
        assert_eq!(option_values(&priority["OptionSet"]).len(), 4);

        let mut no_value = body.clone();
        no_value.as_object_mut().unwrap().remove("Value");
        assert_eq!(parse_insert_option_value(&no_value).unwrap().value, None);
        let mut no_label = body.clone();
        no_label["Label"] = json!({"LocalizedLabels": []});
        assert_eq!(
            parse_insert_option_value(&no_label).unwrap_err().status,
            400
        );
        let global = json!({"OptionSetName": "st_kinds", "Label": body["Label"].clone()});
        assert_eq!(parse_insert_option_value(&global).unwrap_err().status, 400);
        let mut too_big = body.clone();
        too_big["Value"] = json!(5_000_000_000_i64);
        assert_eq!(parse_insert_option_value(&too_big).unwrap_err().status, 400);
    }
}
