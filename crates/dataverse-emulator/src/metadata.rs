//! The emulator's metadata API (SPEC §7): table and column definitions as
//! the Dataverse Web API serves them (`EntityDefinitions`, attributes cast
//! to their metadata type with `$expand=OptionSet`, `Keys`), the bodies a
//! client sends to change them (create table, create column, create key,
//! `InsertOptionValue`), and reading metadata pulled from a real org
//! (`--metadata FILE`).
//!
//! It exists so ferry's loader and third-party Dataverse tools can discover
//! and extend the target schema against the emulator exactly as they would
//! against an org: the loader checks lengths and option values from
//! `EntityDefinitions`, creates its custom columns and the `Critical`
//! priority before loading, and upserts by alternate key. Everything here
//! is a pure function of [`Schema`]; the schema's mutation methods live in
//! `crate::schema`, and `api.rs` routes requests to both.
//!
//! Shapes follow Microsoft's Web API metadata pages on learn.microsoft.com
//! (power-apps/developer/data-platform/webapi/…): "Query schema
//! definitions" and "Retrieve table definitions by name or MetadataId"
//! (`EntityDefinitions(LogicalName='x')`, `Attributes(LogicalName='y')`,
//! casts to `Microsoft.Dynamics.CRM.PicklistAttributeMetadata` with
//! `$expand=OptionSet`), "Create and update table definitions" and "Create
//! and update column definitions" (request bodies), the `InsertOptionValue`
//! action and `InsertOptionValueResponse`, and "Work with alternate keys"
//! (`EntityKeyMetadata`). `PublishAllXml` needs nothing here: Dataverse
//! makes new tables and columns usable by the Web API as soon as they are
//! created (publishing concerns forms and labels), so the emulator applies
//! every change at once and `api.rs` answers the action with 204.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::error::{DvError, RESOURCE_NOT_FOUND};
use crate::schema::{
    AlternateKey, Column, ColumnType, OptionValue, Ownership, RequiredLevel, Schema, Table,
    PUBLISHER_OPTION_VALUE_BASE,
};

/// The namespace every Dataverse metadata type name lives in.
const CRM: &str = "Microsoft.Dynamics.CRM.";

/// English (United States): the only language the emulator labels in, and
/// the base language of most orgs.
const LANGUAGE_CODE: i64 = 1033;

/// Namespace of the emulator's metadata ids, so a definition keeps its
/// `MetadataId` across restarts and between two emulators.
const METADATA_NAMESPACE: Uuid = Uuid::from_u128(0x8a1e_61c2_3f0d_4b55_9c27_d4e8_0b6f_a913);

/// Object type codes fixed by Microsoft (the SDK's entity type codes, the
/// same in every org) for the tables ferry touches. Custom and solution
/// tables (`msdyn_*`) get a code per org at install time, and the booking
/// tables' codes could not be confirmed from the sources at hand, so those
/// get a stable one from [`object_type_code`] instead.
const KNOWN_ENTITIES: [(&str, &str, i32); 21] = [
    ("account", "Account", 1),
    ("contact", "Contact", 2),
    ("annotation", "Annotation", 5),
    ("systemuser", "SystemUser", 8),
    ("team", "Team", 9),
    ("businessunit", "BusinessUnit", 10),
    ("incident", "Incident", 112),
    ("activityparty", "ActivityParty", 135),
    ("contract", "Contract", 1010),
    ("contractdetail", "ContractDetail", 1011),
    ("pricelevel", "PriceLevel", 1022),
    ("product", "Product", 1024),
    ("productpricelevel", "ProductPriceLevel", 1026),
    ("uom", "UoM", 1055),
    ("uomschedule", "UoMSchedule", 1056),
    ("customeraddress", "CustomerAddress", 1071),
    ("appointment", "Appointment", 4201),
    ("email", "Email", 4202),
    ("incidentresolution", "IncidentResolution", 4206),
    ("phonecall", "PhoneCall", 4210),
    ("transactioncurrency", "TransactionCurrency", 9105),
];

/// Schema names of the other reference tables (shared/reference/dataverse);
/// the solution tables keep their logical name as schema name.
const KNOWN_SCHEMA_NAMES: [(&str, &str); 4] = [
    ("bookableresource", "BookableResource"),
    ("bookableresourcebooking", "BookableResourceBooking"),
    ("bookingstatus", "BookingStatus"),
    ("opportunityproduct", "OpportunityProduct"),
];

// ---------------------------------------------------------------------------
// Serving definitions
// ---------------------------------------------------------------------------

/// An OData context URL (`{service root}/$metadata#{fragment}`).
pub fn context_url(base_url: &str, fragment: &str) -> String {
    format!("{}/$metadata#{fragment}", base_url.trim_end_matches('/'))
}

/// `GET EntityDefinitions`: every table, without attributes.
pub fn entity_definitions(schema: &Schema, base_url: &str) -> Value {
    let tables: Vec<Value> = schema
        .tables()
        .map(|t| Value::Object(entity_json(t)))
        .collect();
    json!({
        "@odata.context": context_url(base_url, "EntityDefinitions"),
        "value": tables,
    })
}

/// `GET EntityDefinitions(LogicalName='x')`, with `?$expand=Attributes`
/// when `expand_attributes`. As on a real org, option sets are not part of
/// the expanded attributes: they are navigation properties of the cast
/// attribute types ([`attribute_with_optionset`]).
pub fn entity_definition(
    schema: &Schema,
    base_url: &str,
    logical_name: &str,
    expand_attributes: bool,
) -> Result<Value, DvError> {
    let table = schema
        .table(logical_name)
        .ok_or_else(|| unknown_entity(logical_name))?;
    let mut entity = entity_json(table);
    let fragment = if expand_attributes {
        "EntityDefinitions(Attributes())/$entity"
    } else {
        "EntityDefinitions/$entity"
    };
    entity.insert(
        "@odata.context".into(),
        json!(context_url(base_url, fragment)),
    );
    if expand_attributes {
        let attributes: Vec<Value> = table
            .columns
            .iter()
            .map(|c| Value::Object(attribute_json(table, c)))
            .collect();
        entity.insert("Attributes".into(), Value::Array(attributes));
    }
    Ok(Value::Object(entity))
}

/// `GET EntityDefinitions(LogicalName='t')/Attributes(LogicalName='c')/Microsoft.Dynamics.CRM.<cast>?$expand=OptionSet`.
///
/// `cast` may be given with or without the `Microsoft.Dynamics.CRM.`
/// namespace. It must be the column's own metadata type or one it derives
/// from (`AttributeMetadata`, `EnumAttributeMetadata`); anything else is
/// refused with 400, as clients rely on the cast to say what they expect.
/// Choice, state, status and boolean columns carry their `OptionSet`. The
/// caller adds `@odata.context` ([`attribute_context`]).
pub fn attribute_with_optionset(
    schema: &Schema,
    table: &str,
    column: &str,
    cast: &str,
) -> Result<Value, DvError> {
    let t = schema.table(table).ok_or_else(|| unknown_entity(table))?;
    let c = t
        .column(column)
        .ok_or_else(|| unknown_attribute(table, column))?;
    let cast = bare_type_name(cast);
    let own = metadata_type(c.column_type);
    let applies = cast == own
        || cast == "AttributeMetadata"
        || (cast == "EnumAttributeMetadata" && is_enum(c.column_type));
    if !applies {
        return Err(DvError::bad_request(format!(
            "The attribute {table}.{column} is of type {CRM}{own}, which cannot be cast to {CRM}{cast}."
        )));
    }
    let mut attribute = attribute_json(t, c);
    if cast != "AttributeMetadata" {
        if let Some(set) = option_set_json(t, c) {
            attribute.insert("OptionSet".into(), set);
        }
    }
    Ok(Value::Object(attribute))
}

/// The `@odata.context` of an [`attribute_with_optionset`] response.
pub fn attribute_context(base_url: &str, table: &str, cast: &str) -> String {
    context_url(
        base_url,
        &format!(
            "EntityDefinitions('{table}')/Attributes/{CRM}{}(OptionSet())/$entity",
            bare_type_name(cast)
        ),
    )
}

/// `GET EntityDefinitions(LogicalName='t')/Keys`. Dataverse builds a key's
/// index in the background (`Pending`, `InProgress`, then `Active`); the
/// emulator's keys are usable at once, so they are always `Active`.
pub fn keys(schema: &Schema, table: &str) -> Result<Value, DvError> {
    let t = schema.table(table).ok_or_else(|| unknown_entity(table))?;
    let keys: Vec<Value> = t.keys.iter().map(|k| key_json(t, k)).collect();
    Ok(json!({ "value": keys }))
}

fn unknown_entity(name: &str) -> DvError {
    DvError::new(
        404,
        RESOURCE_NOT_FOUND,
        format!("Could not find an entity with LogicalName = '{name}'."),
    )
}

fn unknown_attribute(table: &str, column: &str) -> DvError {
    DvError::new(
        404,
        RESOURCE_NOT_FOUND,
        format!("Could not find an attribute with LogicalName = '{column}' on entity '{table}'."),
    )
}

fn metadata_id(kind: &str, name: &str) -> String {
    Uuid::new_v5(&METADATA_NAMESPACE, format!("{kind}:{name}").as_bytes()).to_string()
}

/// The table's object type code: Microsoft's where fixed, else a stable
/// number in the range Dataverse gives custom tables (10,000 and up).
pub fn object_type_code(logical_name: &str) -> i32 {
    if let Some((_, _, code)) = KNOWN_ENTITIES.iter().find(|e| e.0 == logical_name) {
        return *code;
    }
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let hash = logical_name.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    10_000 + (hash % 90_000) as i32
}

fn entity_schema_name(logical_name: &str) -> &str {
    KNOWN_ENTITIES
        .iter()
        .map(|e| (e.0, e.1))
        .chain(KNOWN_SCHEMA_NAMES)
        .find(|e| e.0 == logical_name)
        .map_or(logical_name, |e| e.1)
}

fn entity_json(table: &Table) -> Map<String, Value> {
    let name = table.logical_name.as_str();
    let primary_name = (!table.primary_name.is_empty()).then_some(table.primary_name.as_str());
    let entity = json!({
        "MetadataId": metadata_id("entity", name),
        "LogicalName": name,
        "SchemaName": entity_schema_name(name),
        "EntitySetName": table.entity_set_name,
        "LogicalCollectionName": table.entity_set_name,
        "PrimaryIdAttribute": table.primary_id,
        "PrimaryNameAttribute": primary_name,
        "OwnershipType": table.ownership.as_str(),
        "IsCustomEntity": table.custom,
        "IsManaged": !table.custom,
        "ObjectTypeCode": object_type_code(name),
        // Activity tables are the ones keyed by `activityid`.
        "IsActivity": table.primary_id == "activityid",
        "DisplayName": empty_label(),
        "Description": empty_label(),
    });
    match entity {
        Value::Object(map) => map,
        _ => unreachable!("json! of an object literal"),
    }
}

/// The Web API metadata type of a column (`StringAttributeMetadata`, ...).
/// Customer, owner and party-list columns are lookups to the metadata API.
fn metadata_type(t: ColumnType) -> &'static str {
    match t {
        ColumnType::String => "StringAttributeMetadata",
        ColumnType::Memo => "MemoAttributeMetadata",
        ColumnType::Integer => "IntegerAttributeMetadata",
        ColumnType::BigInt => "BigIntAttributeMetadata",
        ColumnType::Decimal => "DecimalAttributeMetadata",
        ColumnType::Double => "DoubleAttributeMetadata",
        ColumnType::Money => "MoneyAttributeMetadata",
        ColumnType::Boolean => "BooleanAttributeMetadata",
        ColumnType::DateTime => "DateTimeAttributeMetadata",
        ColumnType::Lookup | ColumnType::Customer | ColumnType::Owner | ColumnType::PartyList => {
            "LookupAttributeMetadata"
        }
        ColumnType::Picklist => "PicklistAttributeMetadata",
        ColumnType::MultiSelectPicklist => "MultiSelectPicklistAttributeMetadata",
        ColumnType::State => "StateAttributeMetadata",
        ColumnType::Status => "StatusAttributeMetadata",
        ColumnType::Uniqueidentifier => "UniqueIdentifierAttributeMetadata",
        ColumnType::EntityName => "EntityNameAttributeMetadata",
        ColumnType::Image => "ImageAttributeMetadata",
    }
}

/// Types deriving from `EnumAttributeMetadata` in the metadata model.
fn is_enum(t: ColumnType) -> bool {
    matches!(
        t,
        ColumnType::Picklist
            | ColumnType::MultiSelectPicklist
            | ColumnType::State
            | ColumnType::Status
            | ColumnType::EntityName
    )
}

/// `AttributeType`: multi-select choices and images are `Virtual` there
/// (their real type is in `AttributeTypeName`), as the real account
/// metadata in shared/reference shows.
fn attribute_type(t: ColumnType) -> &'static str {
    match t {
        ColumnType::MultiSelectPicklist | ColumnType::Image => "Virtual",
        other => other.as_str(),
    }
}

/// A type name without `#` and the `Microsoft.Dynamics.CRM.` namespace.
fn bare_type_name(name: &str) -> &str {
    let name = name.trim().trim_start_matches('#');
    name.strip_prefix(CRM).unwrap_or(name)
}

/// A whole number as a JSON integer (how Dataverse writes ranges of
/// integer columns), anything else as a float.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && (i64::MIN as f64..=i64::MAX as f64).contains(&n) {
        json!(n as i64)
    } else {
        json!(n)
    }
}

fn empty_label() -> Value {
    json!({ "LocalizedLabels": [], "UserLocalizedLabel": null })
}

fn label_json(text: &str, id: &str) -> Value {
    let localized = json!({
        "Label": text,
        "LanguageCode": LANGUAGE_CODE,
        "IsManaged": false,
        "MetadataId": id,
        "HasChanged": null,
    });
    json!({ "LocalizedLabels": [localized.clone()], "UserLocalizedLabel": localized })
}

fn attribute_json(table: &Table, column: &Column) -> Map<String, Value> {
    let t = column.column_type;
    let name = column.name.as_str();
    let level = column.required_level;
    let mut a = Map::new();
    let mut put = |key: &str, value: Value| {
        a.insert(key.to_string(), value);
    };
    put("@odata.type", json!(format!("#{CRM}{}", metadata_type(t))));
    put(
        "MetadataId",
        json!(metadata_id(
            "attribute",
            &format!("{}.{name}", table.logical_name)
        )),
    );
    put("LogicalName", json!(name));
    // The emulator binds lookups by logical name (DESIGN.md), so the
    // logical name is also the schema name a client would derive
    // navigation property names from.
    put("SchemaName", json!(name));
    put("EntityLogicalName", json!(table.logical_name));
    put("AttributeType", json!(attribute_type(t)));
    put(
        "AttributeTypeName",
        json!({ "Value": format!("{}Type", t.as_str()) }),
    );
    put(
        "RequiredLevel",
        json!({
            "Value": level.as_str(),
            "CanBeChanged": level != RequiredLevel::SystemRequired,
            "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
        }),
    );
    // Where the reference did not say, the column is writable: that is
    // what Dataverse reports for nearly every column.
    put(
        "IsValidForCreate",
        json!(column.valid_for_create.unwrap_or(true)),
    );
    put(
        "IsValidForUpdate",
        json!(column.valid_for_update.unwrap_or(true)),
    );
    put("IsValidForRead", json!(true));
    put("IsValidODataAttribute", json!(true));
    put("IsCustomAttribute", json!(column.custom));
    put("IsManaged", json!(!column.custom));
    put("IsPrimaryId", json!(name == table.primary_id));
    put("IsPrimaryName", json!(name == table.primary_name));
    put("AttributeOf", Value::Null);
    put("DisplayName", empty_label());
    put("Description", empty_label());
    match t {
        ColumnType::String | ColumnType::Memo => {
            put("MaxLength", json!(column.max_length));
            let format = column
                .format
                .as_deref()
                .unwrap_or(if t == ColumnType::Memo {
                    "TextArea"
                } else {
                    "Text"
                });
            put("Format", json!(format));
            put("FormatName", json!({ "Value": format }));
        }
        ColumnType::Integer
        | ColumnType::BigInt
        | ColumnType::Decimal
        | ColumnType::Double
        | ColumnType::Money => {
            put("MinValue", column.min.map_or(Value::Null, number));
            put("MaxValue", column.max.map_or(Value::Null, number));
            if matches!(
                t,
                ColumnType::Decimal | ColumnType::Double | ColumnType::Money
            ) {
                put("Precision", json!(column.precision));
            }
            if t == ColumnType::Integer {
                put("Format", json!(column.format.as_deref().unwrap_or("None")));
            }
        }
        ColumnType::DateTime => {
            put(
                "Format",
                json!(column.format.as_deref().unwrap_or("DateAndTime")),
            );
            // UserLocal is Dataverse's default behaviour.
            put(
                "DateTimeBehavior",
                json!({ "Value": column.behavior.as_deref().unwrap_or("UserLocal") }),
            );
        }
        ColumnType::Lookup | ColumnType::Customer | ColumnType::Owner | ColumnType::PartyList => {
            put("Targets", json!(column.targets));
        }
        _ => {}
    }
    a
}

fn option_json(table: &Table, column: &Column, option: &OptionValue) -> Value {
    let id = metadata_id(
        "option",
        &format!("{}.{}={}", table.logical_name, column.name, option.value),
    );
    let mut o = json!({
        "Value": option.value,
        "Label": label_json(&option.label, &id),
        "Description": empty_label(),
        "Color": null,
        "ExternalValue": null,
        "HasChanged": null,
        "IsManaged": !column.custom && option.value < PUBLISHER_OPTION_VALUE_BASE,
        "MetadataId": id,
    });
    let map = o.as_object_mut().expect("an object literal");
    match column.column_type {
        ColumnType::Status => {
            map.insert(
                "@odata.type".into(),
                json!(format!("#{CRM}StatusOptionMetadata")),
            );
            map.insert("State".into(), json!(option.state));
        }
        ColumnType::State => {
            map.insert(
                "@odata.type".into(),
                json!(format!("#{CRM}StateOptionMetadata")),
            );
            map.insert("DefaultStatus".into(), json!(option.default_status));
            map.insert("InvariantName".into(), json!(option.label));
        }
        _ => {}
    }
    o
}

/// The `OptionSet` of a choice, state, status or boolean column.
fn option_set_json(table: &Table, column: &Column) -> Option<Value> {
    let set_type = match column.column_type {
        ColumnType::Picklist | ColumnType::MultiSelectPicklist => "Picklist",
        ColumnType::State => "State",
        ColumnType::Status => "Status",
        ColumnType::Boolean => "Boolean",
        _ => return None,
    };
    let full_name = format!("{}.{}", table.logical_name, column.name);
    let mut set = json!({
        "MetadataId": metadata_id("optionset", &full_name),
        // Local option sets are named `<table>_<column>`.
        "Name": format!("{}_{}", table.logical_name, column.name),
        "IsGlobal": false,
        "IsCustomOptionSet": column.custom,
        "IsManaged": !column.custom,
        "OptionSetType": set_type,
        "DisplayName": empty_label(),
        "Description": empty_label(),
    });
    let map = set.as_object_mut().expect("an object literal");
    if column.column_type == ColumnType::Boolean {
        // BooleanOptionSetMetadata: exactly a true and a false option.
        let pick = |value: i32, fallback: &str| {
            let option = column.option(value).cloned().unwrap_or(OptionValue {
                value,
                label: fallback.to_string(),
                state: None,
                default_status: None,
            });
            option_json(table, column, &option)
        };
        map.insert(
            "@odata.type".into(),
            json!(format!("#{CRM}BooleanOptionSetMetadata")),
        );
        map.insert("TrueOption".into(), pick(1, "Yes"));
        map.insert("FalseOption".into(), pick(0, "No"));
    } else {
        map.insert(
            "@odata.type".into(),
            json!(format!("#{CRM}OptionSetMetadata")),
        );
        let options: Vec<Value> = column
            .options
            .iter()
            .map(|o| option_json(table, column, o))
            .collect();
        map.insert("Options".into(), Value::Array(options));
    }
    Some(set)
}

fn key_json(table: &Table, key: &AlternateKey) -> Value {
    json!({
        "MetadataId": metadata_id("key", &format!("{}.{}", table.logical_name, key.name)),
        "LogicalName": key.name,
        "SchemaName": key.name,
        "EntityLogicalName": table.logical_name,
        "KeyAttributes": key.columns,
        "EntityKeyIndexStatus": "Active",
        "AsyncJob": null,
        "IsManaged": false,
        "DisplayName": empty_label(),
    })
}

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

fn object<'a>(body: &'a Value, what: &str) -> Result<&'a Map<String, Value>, DvError> {
    body.as_object()
        .ok_or_else(|| DvError::bad_request(format!("The {what} must be a JSON object.")))
}

fn required_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a str, DvError> {
    obj.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| DvError::bad_request(format!("{key} is required.")))
}

fn optional_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, DvError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(DvError::bad_request(format!(
            "{key} must be a string, not {other}."
        ))),
    }
}

fn optional_number(obj: &Map<String, Value>, key: &str) -> Result<Option<f64>, DvError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(DvError::bad_request(format!(
            "{key} must be a number, not {other}."
        ))),
    }
}

fn optional_int(obj: &Map<String, Value>, key: &str) -> Result<Option<i64>, DvError> {
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
fn value_or_string<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    match obj.get(key)? {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("Value").and_then(Value::as_str),
        _ => None,
    }
}

/// The text of a `Label`: the user's localized label, else the English
/// one, else the first.
fn label_text(label: Option<&Value>) -> Option<String> {
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
fn logical_from_schema_name(schema_name: &str) -> Result<String, DvError> {
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

fn required_level_from(obj: &Map<String, Value>) -> Result<RequiredLevel, DvError> {
    match value_or_string(obj, "RequiredLevel") {
        None => Ok(RequiredLevel::None),
        Some(level) => serde_json::from_value(json!(level))
            .map_err(|_| DvError::bad_request(format!("Unknown RequiredLevel '{level}'."))),
    }
}

fn column_type_from_name(name: &str) -> Option<ColumnType> {
    serde_json::from_value(json!(name)).ok()
}

fn type_from_metadata_name(name: &str) -> Option<ColumnType> {
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
fn requested_type(obj: &Map<String, Value>) -> Result<ColumnType, DvError> {
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
fn range(obj: &Map<String, Value>, lo: f64, hi: f64) -> Result<(f64, f64), DvError> {
    let min = optional_number(obj, "MinValue")?.unwrap_or(lo);
    let max = optional_number(obj, "MaxValue")?.unwrap_or(hi);
    if min < lo || max > hi || min > max {
        return Err(DvError::bad_request(format!(
            "MinValue {min} and MaxValue {max} must lie within {lo} and {hi}, in order."
        )));
    }
    Ok((min, max))
}

fn precision(obj: &Map<String, Value>, default: u32, most: u32) -> Result<u32, DvError> {
    match optional_int(obj, "Precision")? {
        None => Ok(default),
        Some(p) if (0..=i64::from(most)).contains(&p) => Ok(p as u32),
        Some(p) => Err(DvError::bad_request(format!(
            "Precision {p} is out of range: 0 to {most}."
        ))),
    }
}

fn max_length(obj: &Map<String, Value>, default: i64, most: i64) -> Result<i64, DvError> {
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
fn choice_options(obj: &Map<String, Value>) -> Result<Vec<OptionValue>, DvError> {
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
fn boolean_options(obj: &Map<String, Value>) -> Vec<OptionValue> {
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
fn system_columns(logical: &str, ownership: Ownership) -> (Column, Vec<Column>) {
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

// ---------------------------------------------------------------------------
// Metadata pulled from a real org
// ---------------------------------------------------------------------------

/// What [`read_org_metadata`] made of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgMetadata {
    pub tables: Vec<Table>,
    /// Attributes read but not kept as columns, with why.
    pub skipped: Vec<SkippedAttribute>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedAttribute {
    pub table: String,
    pub attribute: String,
    pub reason: String,
}

/// The tables in metadata pulled from a real org; see [`read_org_metadata`].
pub fn tables_from_org_metadata(json: &Value) -> Result<Vec<Table>, String> {
    read_org_metadata(json).map(|m| m.tables)
}

/// Reads metadata pulled from a real org into ferry's tables, so the
/// emulator (and ferry's checks) can hold an org's real schema rather than
/// the reference one. Understood:
///
/// - the `RetrieveMetadataChanges` response (`{"EntityMetadata": [...]}`,
///   attributes typed `Complex…AttributeMetadata`),
/// - `EntityDefinitions?$expand=Attributes` (`{"value": [...]}`), a bare
///   array of entity definitions, or a single `EntityDefinitions(…)`.
///
/// Every entity needs its `Attributes`. A column's type comes from
/// `AttributeTypeName.Value` (which tells multi-select choices and images
/// apart from other `Virtual` attributes), else `AttributeType`; its facts
/// from `MaxLength`, `RequiredLevel.Value`, `Targets`, `Format`/`FormatName`,
/// `DateTimeBehavior`, `MinValue`/`MaxValue`/`Precision`,
/// `IsValidForCreate`/`IsValidForUpdate`, and options from `OptionSet` (or
/// `GlobalOptionSet`): `Options[]` with `Label` (user-localized, else
/// English, else first), `State` on status options and `DefaultStatus` on
/// state options, or `TrueOption`/`FalseOption` for booleans. `Keys` become
/// alternate keys.
///
/// Virtual attributes (the `…name` formatted values of choices and
/// booleans) hold no value and are skipped, as are types ferry does not
/// model (files, calendar rules); both are listed in `skipped`. A fact the
/// pull did not include stays unknown (`None`, or an empty primary name)
/// for [`Schema::replace_tables`] to complete from the built-in schema;
/// display-name attributes of a lookup (`AttributeOf` set, `IsLogical`)
/// are read-only unless the pull says otherwise.
pub fn read_org_metadata(json: &Value) -> Result<OrgMetadata, String> {
    let entities = org_entities(json)?;
    let mut out = OrgMetadata {
        tables: Vec::new(),
        skipped: Vec::new(),
    };
    for (i, entity) in entities.iter().enumerate() {
        let table = org_table(entity, &mut out.skipped).map_err(|e| format!("entity #{i}: {e}"))?;
        if out
            .tables
            .iter()
            .any(|t| t.logical_name == table.logical_name)
        {
            return Err(format!("{} is defined twice", table.logical_name));
        }
        out.tables.push(table);
    }
    if out.tables.is_empty() {
        return Err("the metadata holds no tables".to_string());
    }
    Ok(out)
}

fn org_entities(json: &Value) -> Result<&[Value], String> {
    if let Some(list) = json.get("EntityMetadata").and_then(Value::as_array) {
        return Ok(list);
    }
    if let Some(list) = json.get("value").and_then(Value::as_array) {
        return Ok(list);
    }
    if let Some(list) = json.as_array() {
        return Ok(list);
    }
    if json.get("LogicalName").is_some() {
        return Ok(std::slice::from_ref(json));
    }
    Err(
        "not Dataverse metadata: expected EntityMetadata (RetrieveMetadataChanges), value (EntityDefinitions) or an entity definition"
            .to_string(),
    )
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// `{"Value": "x"}` or `"x"`, from a pulled definition.
fn managed_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    match v.get(key)? {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("Value").and_then(Value::as_str),
        _ => None,
    }
}

enum ReadAttribute {
    Column(Column, AttributeFlags),
    Skipped(String, String),
}

#[derive(Default)]
struct AttributeFlags {
    primary_id: bool,
    primary_name: bool,
}

fn org_table(entity: &Value, skipped: &mut Vec<SkippedAttribute>) -> Result<Table, String> {
    let logical = str_of(entity, "LogicalName").ok_or("no LogicalName")?;
    let attributes = entity
        .get("Attributes")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{logical}: no Attributes (pull with $expand=Attributes)"))?;
    let mut columns: Vec<Column> = Vec::new();
    let mut flagged_id = None;
    let mut flagged_name = None;
    for attribute in attributes {
        match org_column(attribute).map_err(|e| format!("{logical}: {e}"))? {
            ReadAttribute::Column(column, flags) => {
                if columns.iter().any(|c| c.name == column.name) {
                    return Err(format!("{logical}.{} is defined twice", column.name));
                }
                if flags.primary_id && flagged_id.is_none() {
                    flagged_id = Some(column.name.clone());
                }
                if flags.primary_name && flagged_name.is_none() {
                    flagged_name = Some(column.name.clone());
                }
                columns.push(column);
            }
            ReadAttribute::Skipped(attribute, reason) => skipped.push(SkippedAttribute {
                table: logical.to_string(),
                attribute,
                reason,
            }),
        }
    }
    let has = |name: &str| columns.iter().any(|c| c.name == name);
    let conventional_id = format!("{logical}id");
    let primary_id = str_of(entity, "PrimaryIdAttribute")
        .map(str::to_string)
        .or(flagged_id)
        .or_else(|| has(&conventional_id).then_some(conventional_id))
        .or_else(|| has("activityid").then(|| "activityid".to_string()))
        .unwrap_or_default();
    let primary_name = str_of(entity, "PrimaryNameAttribute")
        .map(str::to_string)
        .or(flagged_name)
        .unwrap_or_default();
    let entity_set_name = str_of(entity, "EntitySetName")
        .or_else(|| str_of(entity, "LogicalCollectionName"))
        .unwrap_or_default()
        .to_string();
    let ownership = match str_of(entity, "OwnershipType") {
        // A team-owned table carries `ownerid` just as a user-owned one.
        Some("UserOwned" | "TeamOwned") => Ownership::UserOwned,
        Some("OrganizationOwned") => Ownership::OrganizationOwned,
        Some("BusinessOwned" | "BusinessParented") => Ownership::BusinessOwned,
        Some("None") => Ownership::None,
        Some(other) => return Err(format!("{logical}: unknown OwnershipType '{other}'")),
        // Not in the pull: the columns tell, as Dataverse adds `ownerid`
        // to user-owned and `organizationid` to organization-owned tables.
        None if has("ownerid") => Ownership::UserOwned,
        None if has("organizationid") => Ownership::OrganizationOwned,
        None => Ownership::None,
    };
    let mut keys = Vec::new();
    for key in entity
        .get("Keys")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
    {
        let name = str_of(key, "LogicalName")
            .map(str::to_string)
            .or_else(|| str_of(key, "SchemaName").map(str::to_ascii_lowercase))
            .ok_or_else(|| format!("{logical}: a key has no name"))?;
        let key_columns: Vec<String> = key
            .get("KeyAttributes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if key_columns.is_empty() {
            return Err(format!("{logical}: key {name} has no KeyAttributes"));
        }
        keys.push(AlternateKey {
            name,
            columns: key_columns,
        });
    }
    Ok(Table {
        logical_name: logical.to_string(),
        entity_set_name,
        primary_id,
        primary_name,
        ownership,
        columns,
        keys,
        custom: false,
    })
}

fn org_column(a: &Value) -> Result<ReadAttribute, String> {
    let name = str_of(a, "LogicalName").ok_or("an attribute has no LogicalName")?;
    let type_name =
        managed_str(a, "AttributeTypeName").map(|s| s.strip_suffix("Type").unwrap_or(s));
    let declared = str_of(a, "AttributeType");
    let mut column_type = None;
    for candidate in [type_name, declared].into_iter().flatten() {
        if candidate == "Virtual" {
            let reason = match str_of(a, "AttributeOf") {
                Some(of) => format!("virtual: the formatted value of {of}, not stored"),
                None => "virtual: not stored".to_string(),
            };
            return Ok(ReadAttribute::Skipped(name.to_string(), reason));
        }
        if let Some(t) = column_type_from_name(candidate) {
            column_type = Some(t);
            break;
        }
    }
    let Some(column_type) = column_type else {
        let shown = type_name.or(declared).unwrap_or("none");
        return Ok(ReadAttribute::Skipped(
            name.to_string(),
            format!("type {shown} is not one ferry models"),
        ));
    };
    let required_level = match managed_str(a, "RequiredLevel") {
        None => RequiredLevel::None,
        Some(level) => serde_json::from_value(json!(level))
            .map_err(|_| format!("{name}: unknown RequiredLevel '{level}'"))?,
    };
    // The display names of a lookup are filled by the platform.
    let derived = str_of(a, "AttributeOf").is_some()
        && a.get("IsLogical").and_then(Value::as_bool) == Some(true);
    let validity = |key: &str| {
        a.get(key)
            .and_then(Value::as_bool)
            .or_else(|| derived.then_some(false))
    };
    let format = managed_str(a, "Format")
        .or_else(|| managed_str(a, "FormatName"))
        .filter(|f| *f != "None")
        .map(str::to_string);
    let options = match a
        .get("OptionSet")
        .filter(|s| !s.is_null())
        .or_else(|| a.get("GlobalOptionSet").filter(|s| !s.is_null()))
    {
        Some(set) => org_options(set, column_type).map_err(|e| format!("{name}: {e}"))?,
        None => Vec::new(),
    };
    let column = Column {
        name: name.to_string(),
        column_type,
        max_length: a.get("MaxLength").and_then(Value::as_i64),
        required_level,
        targets: a
            .get("Targets")
            .and_then(Value::as_array)
            .map(|t| {
                t.iter()
                    .filter_map(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        options,
        format,
        behavior: managed_str(a, "DateTimeBehavior").map(str::to_string),
        min: a.get("MinValue").and_then(Value::as_f64),
        max: a.get("MaxValue").and_then(Value::as_f64),
        precision: a
            .get("Precision")
            .and_then(Value::as_u64)
            .and_then(|p| u32::try_from(p).ok()),
        valid_for_create: validity("IsValidForCreate"),
        valid_for_update: validity("IsValidForUpdate"),
        custom: false,
    };
    let flags = AttributeFlags {
        primary_id: a.get("IsPrimaryId").and_then(Value::as_bool) == Some(true),
        primary_name: a.get("IsPrimaryName").and_then(Value::as_bool) == Some(true),
    };
    Ok(ReadAttribute::Column(column, flags))
}

fn org_options(set: &Value, column_type: ColumnType) -> Result<Vec<OptionValue>, String> {
    let read = |o: &Value| -> Result<OptionValue, String> {
        let value = o
            .get("Value")
            .and_then(Value::as_i64)
            .and_then(|v| i32::try_from(v).ok())
            .ok_or("an option has no integer Value")?;
        let int = |key: &str| {
            o.get(key)
                .and_then(Value::as_i64)
                .and_then(|v| i32::try_from(v).ok())
        };
        Ok(OptionValue {
            value,
            label: label_text(o.get("Label")).unwrap_or_default(),
            state: (column_type == ColumnType::Status)
                .then(|| int("State"))
                .flatten(),
            default_status: (column_type == ColumnType::State)
                .then(|| int("DefaultStatus"))
                .flatten(),
        })
    };
    if let Some(options) = set.get("Options").and_then(Value::as_array) {
        return options.iter().map(read).collect();
    }
    // BooleanOptionSetMetadata: true first, as the reference lists them.
    ["TrueOption", "FalseOption"]
        .iter()
        .filter_map(|which| set.get(*which).filter(|o| !o.is_null()))
        .map(read)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://127.0.0.1:5555/api/data/v9.2";

    const ORG_SAMPLE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/reference/dataverse/account-metadata.retrievemetadatachanges.json"
    );

    fn schema() -> Schema {
        Schema::builtin("st")
    }

    fn attribute<'a>(entity: &'a Value, name: &str) -> &'a Value {
        entity["Attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["LogicalName"] == name)
            .unwrap_or_else(|| panic!("no attribute {name}"))
    }

    fn option_values(set: &Value) -> Vec<(i64, String)> {
        set["Options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["Value"].as_i64().unwrap(),
                    o["Label"]["UserLocalizedLabel"]["Label"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                )
            })
            .collect()
    }

    fn org_sample() -> Value {
        let text = std::fs::read_to_string(ORG_SAMPLE)
            .unwrap_or_else(|e| panic!("reading {ORG_SAMPLE}: {e}"));
        serde_json::from_str(&text).expect("the sample is JSON")
    }

    #[test]
    fn entity_definitions_list_every_table() {
        let s = schema();
        let all = entity_definitions(&s, BASE);
        assert_eq!(
            all["@odata.context"],
            format!("{BASE}/$metadata#EntityDefinitions")
        );
        let list = all["value"].as_array().unwrap();
        assert_eq!(list.len(), s.tables().count());
        let find = |name: &str| list.iter().find(|e| e["LogicalName"] == name).unwrap();
        let account = find("account");
        assert_eq!(account["EntitySetName"], "accounts");
        assert_eq!(account["SchemaName"], "Account");
        assert_eq!(account["PrimaryIdAttribute"], "accountid");
        assert_eq!(account["PrimaryNameAttribute"], "name");
        assert_eq!(account["OwnershipType"], "UserOwned");
        assert_eq!(account["ObjectTypeCode"], 1);
        assert_eq!(account["IsCustomEntity"], false);
        assert!(account.get("Attributes").is_none());
        assert_eq!(find("incident")["ObjectTypeCode"], 112);
        assert_eq!(find("phonecall")["ObjectTypeCode"], 4210);
        assert_eq!(find("phonecall")["IsActivity"], true);
        assert_eq!(find("annotation")["ObjectTypeCode"], 5);
        let equipment = find("st_equipment");
        assert_eq!(equipment["IsCustomEntity"], true);
        assert_eq!(equipment["SchemaName"], "st_equipment");
        // Metadata ids are stable; codes of other tables are unique and in
        // the custom range.
        assert_eq!(
            account["MetadataId"],
            entity_definitions(&s, BASE)["value"][0]["MetadataId"]
        );
        let codes: BTreeSet<i64> = list
            .iter()
            .map(|e| e["ObjectTypeCode"].as_i64().unwrap())
            .collect();
        assert_eq!(codes.len(), list.len());
        assert!(equipment["ObjectTypeCode"].as_i64().unwrap() >= 10_000);
    }

    #[test]
    fn entity_definition_expands_attributes() {
        let s = schema();
        let plain = entity_definition(&s, BASE, "account", false).unwrap();
        assert!(plain.get("Attributes").is_none());
        assert_eq!(
            plain["@odata.context"],
            format!("{BASE}/$metadata#EntityDefinitions/$entity")
        );
        let account = entity_definition(&s, BASE, "account", true).unwrap();
        let attributes = account["Attributes"].as_array().unwrap();
        assert_eq!(attributes.len(), s.table("account").unwrap().columns.len());
        let name = attribute(&account, "name");
        assert_eq!(
            name["@odata.type"],
            "#Microsoft.Dynamics.CRM.StringAttributeMetadata"
        );
        assert_eq!(name["AttributeType"], "String");
        assert_eq!(name["AttributeTypeName"]["Value"], "StringType");
        assert_eq!(name["MaxLength"], 160);
        assert_eq!(name["RequiredLevel"]["Value"], "ApplicationRequired");
        assert_eq!(name["IsPrimaryName"], true);
        let contact = attribute(&account, "primarycontactid");
        assert_eq!(
            contact["@odata.type"],
            "#Microsoft.Dynamics.CRM.LookupAttributeMetadata"
        );
        assert_eq!(contact["Targets"], json!(["contact"]));
        let state = attribute(&account, "statecode");
        assert_eq!(
            state["@odata.type"],
            "#Microsoft.Dynamics.CRM.StateAttributeMetadata"
        );
        assert_eq!(state["IsValidForCreate"], false);
        assert!(state.get("OptionSet").is_none());
        let latitude = attribute(&account, "address1_latitude");
        assert_eq!(latitude["MinValue"], -90);
        assert_eq!(latitude["Precision"], 5);
        let record = attribute(&account, "st_record_id");
        assert_eq!(record["IsCustomAttribute"], true);

        let incident = entity_definition(&s, BASE, "incident", true).unwrap();
        let customer = attribute(&incident, "customerid");
        assert_eq!(customer["AttributeType"], "Customer");
        assert_eq!(customer["Targets"], json!(["account", "contact"]));
        let equipment = entity_definition(&s, BASE, "st_equipment", true).unwrap();
        let install = attribute(&equipment, "st_installdate");
        assert_eq!(install["DateTimeBehavior"]["Value"], "DateOnly");
        assert_eq!(install["Format"], "DateOnly");

        let missing = entity_definition(&s, BASE, "nosuchtable", true).unwrap_err();
        assert_eq!(missing.status, 404);
        assert_eq!(missing.code, RESOURCE_NOT_FOUND);
    }

    #[test]
    fn incident_priority_picklist_lists_its_options() {
        let s = schema();
        let priority = attribute_with_optionset(
            &s,
            "incident",
            "prioritycode",
            "Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
        )
        .unwrap();
        assert_eq!(
            priority["@odata.type"],
            "#Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
        );
        let set = &priority["OptionSet"];
        assert_eq!(set["OptionSetType"], "Picklist");
        assert_eq!(set["Name"], "incident_prioritycode");
        assert_eq!(
            option_values(set),
            [
                (1, "High".to_string()),
                (2, "Normal".to_string()),
                (3, "Low".to_string())
            ]
        );
        let localized = &set["Options"][0]["Label"]["LocalizedLabels"][0];
        assert_eq!(localized["Label"], "High");
        assert_eq!(localized["LanguageCode"], 1033);
        // The bare type name and the base enum type are casts too.
        assert!(attribute_with_optionset(
            &s,
            "incident",
            "prioritycode",
            "PicklistAttributeMetadata"
        )
        .is_ok());
        assert!(
            attribute_with_optionset(&s, "incident", "prioritycode", "EnumAttributeMetadata")
                .is_ok()
        );
        assert!(
            attribute_context(BASE, "incident", "PicklistAttributeMetadata").ends_with(
                "#EntityDefinitions('incident')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata(OptionSet())/$entity"
            )
        );
    }

    #[test]
    fn incident_status_options_carry_their_state() {
        let s = schema();
        let status = attribute_with_optionset(
            &s,
            "incident",
            "statuscode",
            "Microsoft.Dynamics.CRM.StatusAttributeMetadata",
        )
        .unwrap();
        let options = status["OptionSet"]["Options"].as_array().unwrap();
        let state_of = |value: i64| {
            options
                .iter()
                .find(|o| o["Value"] == value)
                .map(|o| o["State"].clone())
                .unwrap()
        };
        assert_eq!(state_of(1), 0);
        assert_eq!(state_of(5), 1);
        assert_eq!(state_of(1000), 1);
        assert_eq!(state_of(6), 2);
        assert_eq!(state_of(2000), 2);
        assert_eq!(
            options[0]["@odata.type"],
            "#Microsoft.Dynamics.CRM.StatusOptionMetadata"
        );
        let state = attribute_with_optionset(
            &s,
            "incident",
            "statecode",
            "Microsoft.Dynamics.CRM.StateAttributeMetadata",
        )
        .unwrap();
        let resolved = state["OptionSet"]["Options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["Value"] == 1)
            .unwrap();
        assert_eq!(resolved["DefaultStatus"], 5);
        assert_eq!(
            resolved["@odata.type"],
            "#Microsoft.Dynamics.CRM.StateOptionMetadata"
        );
    }

    #[test]
    fn boolean_option_set_has_true_and_false() {
        let s = schema();
        let direction =
            attribute_with_optionset(&s, "phonecall", "directioncode", "BooleanAttributeMetadata")
                .unwrap();
        let set = &direction["OptionSet"];
        assert_eq!(set["TrueOption"]["Value"], 1);
        assert_eq!(
            set["TrueOption"]["Label"]["UserLocalizedLabel"]["Label"],
            "Outgoing"
        );
        assert_eq!(set["FalseOption"]["Value"], 0);
    }

    #[test]
    fn a_cast_to_another_type_is_refused() {
        let s = schema();
        let wrong = attribute_with_optionset(
            &s,
            "incident",
            "statuscode",
            "Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
        )
        .unwrap_err();
        assert_eq!(wrong.status, 400);
        let text = attribute_with_optionset(&s, "incident", "title", "PicklistAttributeMetadata")
            .unwrap_err();
        assert_eq!(text.status, 400);
        let nonsense =
            attribute_with_optionset(&s, "incident", "prioritycode", "NoSuchMetadata").unwrap_err();
        assert_eq!(nonsense.status, 400);
        // A matching non-choice cast works, without an option set.
        let title =
            attribute_with_optionset(&s, "incident", "title", "StringAttributeMetadata").unwrap();
        assert_eq!(title["MaxLength"], 200);
        assert!(title.get("OptionSet").is_none());
        let unknown = attribute_with_optionset(&s, "incident", "nosuch", "StringAttributeMetadata")
            .unwrap_err();
        assert_eq!(unknown.status, 404);
    }

    #[test]
    fn keys_are_served_active() {
        let mut s = schema();
        assert_eq!(keys(&s, "account").unwrap()["value"], json!([]));
        let (name, columns) = key_from_metadata(&json!({
            "SchemaName": "st_RecordIdKey",
            "DisplayName": {"LocalizedLabels": [{"Label": "Record id", "LanguageCode": 1033}]},
            "KeyAttributes": ["st_record_id"]
        }))
        .unwrap();
        assert_eq!(name, "st_recordidkey");
        s.add_key("account", &name, columns).unwrap();
        let listed = keys(&s, "account").unwrap();
        let key = &listed["value"][0];
        assert_eq!(key["LogicalName"], "st_recordidkey");
        assert_eq!(key["KeyAttributes"], json!(["st_record_id"]));
        assert_eq!(key["EntityKeyIndexStatus"], "Active");
        assert_eq!(keys(&s, "nosuch").unwrap_err().status, 404);
    }

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
        assert_eq!(decimal.duckdb_type(), "DECIMAL(16,4)");
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

    #[test]
    fn reads_a_real_org_metadata_response() {
        let read = read_org_metadata(&org_sample()).unwrap();
        assert_eq!(read.tables.len(), 1);
        let account = &read.tables[0];
        assert_eq!(account.logical_name, "account");
        assert_eq!(account.entity_set_name, "accounts");
        assert_eq!(account.primary_id, "accountid");
        // The pull asked for neither the primary name nor the ownership.
        assert_eq!(account.primary_name, "");
        assert_eq!(account.ownership, Ownership::UserOwned);
        // All 248 attributes are accounted for: the 37 formatted-value
        // `…name` attributes are virtual and hold nothing.
        assert_eq!(account.columns.len() + read.skipped.len(), 248);
        assert_eq!(read.skipped.len(), 37);
        assert!(read.skipped.iter().all(|s| s.reason.starts_with("virtual")));
        let col = |name: &str| account.column(name).unwrap_or_else(|| panic!("no {name}"));

        let name = col("name");
        assert_eq!(name.column_type, ColumnType::String);
        assert_eq!(name.required_level, RequiredLevel::ApplicationRequired);
        assert_eq!(name.format.as_deref(), Some("Text"));
        let category: Vec<(i32, &str)> = col("accountcategorycode")
            .options
            .iter()
            .map(|o| (o.value, o.label.as_str()))
            .collect();
        assert_eq!(category, [(1, "Preferred Customer"), (2, "Standard")]);
        let state: Vec<(i32, Option<i32>)> = col("statecode")
            .options
            .iter()
            .map(|o| (o.value, o.default_status))
            .collect();
        assert_eq!(state, [(0, Some(1)), (1, Some(2))]);
        let status: Vec<(i32, Option<i32>)> = col("statuscode")
            .options
            .iter()
            .map(|o| (o.value, o.state))
            .collect();
        assert_eq!(status, [(1, Some(0)), (2, Some(1))]);
        let no_email = col("donotemail");
        assert_eq!(no_email.option(1).unwrap().label, "Do Not Allow");
        assert_eq!(no_email.option(0).unwrap().label, "Allow");
        let multi = col("cdsify_multiselect");
        assert_eq!(multi.column_type, ColumnType::MultiSelectPicklist);
        assert_eq!(multi.options.len(), 18);
        assert_eq!(col("entityimage").column_type, ColumnType::Image);
        assert_eq!(col("ownerid").targets, ["systemuser", "team"]);
        assert_eq!(col("ownerid").column_type, ColumnType::Owner);
        assert_eq!(col("primarycontactid").targets, ["contact"]);
        assert_eq!(col("createdon").behavior.as_deref(), Some("UserLocal"));
        assert_eq!(col("createdon").format.as_deref(), Some("DateAndTime"));
        assert_eq!(col("owneridname").valid_for_create, Some(false));
        assert_eq!(col("numberofemployees").format, None);
    }

    #[test]
    fn a_real_org_account_replaces_the_built_in_one() {
        let mut s = schema();
        s.replace_tables(tables_from_org_metadata(&org_sample()).unwrap());
        let account = s.table("account").unwrap();
        let name = account.column("name").unwrap();
        // The org's facts, completed with the built-in ones it did not send.
        assert_eq!(name.column_type, ColumnType::String);
        assert_eq!(name.max_length, Some(160));
        assert_eq!(account.primary_name, "name");
        assert!(account.column("cdsify_multiselect").is_some());
        assert!(account.column("st_record_id").unwrap().custom);
        let served = entity_definition(&s, BASE, "account", true).unwrap();
        assert_eq!(attribute(&served, "name")["MaxLength"], 160);
        let category = attribute_with_optionset(
            &s,
            "account",
            "accountcategorycode",
            "PicklistAttributeMetadata",
        )
        .unwrap();
        assert_eq!(
            option_values(&category["OptionSet"]),
            [
                (1, "Preferred Customer".to_string()),
                (2, "Standard".to_string())
            ]
        );
    }

    #[test]
    fn reads_the_entity_definitions_form() {
        let pulled = json!({
            "@odata.context": "https://org.crm.dynamics.com/api/data/v9.2/$metadata#EntityDefinitions(Attributes())",
            "value": [{
                "LogicalName": "st_site", "SchemaName": "st_Site", "EntitySetName": "st_sites",
                "PrimaryIdAttribute": "st_siteid", "PrimaryNameAttribute": "st_name",
                "OwnershipType": "OrganizationOwned", "IsCustomEntity": true,
                "Keys": [{"LogicalName": "st_code_key", "KeyAttributes": ["st_code"]}],
                "Attributes": [
                    {"@odata.type": "#Microsoft.Dynamics.CRM.UniqueIdentifierAttributeMetadata",
                     "LogicalName": "st_siteid", "AttributeType": "Uniqueidentifier",
                     "AttributeTypeName": {"Value": "UniqueidentifierType"},
                     "RequiredLevel": {"Value": "SystemRequired"},
                     "IsValidForCreate": true, "IsValidForUpdate": false},
                    {"@odata.type": "#Microsoft.Dynamics.CRM.StringAttributeMetadata",
                     "LogicalName": "st_name", "AttributeType": "String",
                     "AttributeTypeName": {"Value": "StringType"}, "MaxLength": 200,
                     "Format": "Text", "RequiredLevel": {"Value": "ApplicationRequired"}},
                    {"LogicalName": "st_code", "AttributeType": "String", "MaxLength": 20,
                     "RequiredLevel": {"Value": "None"}},
                    {"LogicalName": "st_kind", "AttributeType": "Picklist",
                     "AttributeTypeName": {"Value": "PicklistType"},
                     "RequiredLevel": {"Value": "None"},
                     "GlobalOptionSet": {"Options": [{"Value": 100000000,
                        "Label": {"LocalizedLabels": [{"Label": "Depot", "LanguageCode": 1033}],
                                  "UserLocalizedLabel": null}}]}},
                    {"LogicalName": "st_capacity", "AttributeType": "Decimal",
                     "RequiredLevel": {"Value": "None"}, "MinValue": 0, "MaxValue": 1000,
                     "Precision": 2},
                    {"LogicalName": "st_document", "AttributeType": "Virtual",
                     "AttributeTypeName": {"Value": "FileType"}, "RequiredLevel": {"Value": "None"}}
                ]
            }]
        });
        let read = read_org_metadata(&pulled).unwrap();
        let site = &read.tables[0];
        assert_eq!(site.ownership, Ownership::OrganizationOwned);
        assert_eq!(site.primary_name, "st_name");
        assert_eq!(
            site.keys,
            [AlternateKey {
                name: "st_code_key".into(),
                columns: vec!["st_code".into()]
            }]
        );
        assert_eq!(site.column("st_code").unwrap().max_length, Some(20));
        assert_eq!(
            site.column("st_kind")
                .unwrap()
                .option(100_000_000)
                .unwrap()
                .label,
            "Depot"
        );
        assert_eq!(site.column("st_capacity").unwrap().precision, Some(2));
        assert_eq!(
            site.column("st_siteid").unwrap().valid_for_update,
            Some(false)
        );
        assert_eq!(read.skipped.len(), 1);
        assert_eq!(read.skipped[0].attribute, "st_document");

        // Errors name what is wrong.
        assert!(read_org_metadata(&json!({"nothing": 1})).is_err());
        assert!(read_org_metadata(&json!({"value": []})).is_err());
        assert!(read_org_metadata(&json!({"value": [{"LogicalName": "x"}]}))
            .unwrap_err()
            .contains("Attributes"));
        assert!(read_org_metadata(&json!({"value": [{"LogicalName": "x", "Attributes": [
            {"LogicalName": "a", "AttributeType": "String", "RequiredLevel": {"Value": "Sometimes"}}
        ]}]}))
        .is_err());
    }

    #[test]
    fn the_emulators_own_definitions_read_back() {
        let s = schema();
        for table in s.tables() {
            let served = entity_definition(&s, BASE, &table.logical_name, true).unwrap();
            let read = tables_from_org_metadata(&served).unwrap();
            let back = &read[0];
            assert_eq!(back.entity_set_name, table.entity_set_name);
            assert_eq!(back.primary_id, table.primary_id);
            assert_eq!(back.primary_name, table.primary_name);
            assert_eq!(back.ownership, table.ownership);
            assert_eq!(
                back.columns.len(),
                table.columns.len(),
                "{}",
                table.logical_name
            );
            for (theirs, ours) in back.columns.iter().zip(&table.columns) {
                let here = format!("{}.{}", table.logical_name, ours.name);
                assert_eq!(theirs.name, ours.name, "{here}");
                assert_eq!(theirs.column_type, ours.column_type, "{here}");
                assert_eq!(theirs.max_length, ours.max_length, "{here}");
                assert_eq!(theirs.required_level, ours.required_level, "{here}");
                assert_eq!(theirs.targets, ours.targets, "{here}");
                assert_eq!(theirs.precision, ours.precision, "{here}");
                assert_eq!(theirs.min, ours.min, "{here}");
                assert_eq!(theirs.max, ours.max, "{here}");
            }
        }
    }
}
