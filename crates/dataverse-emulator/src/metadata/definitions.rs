//! Table and column definitions as the Web API serves them:
//! `EntityDefinitions` (with `$expand=Attributes`), single attributes cast
//! to their metadata type with `$expand=OptionSet`, option sets with their
//! labels, and alternate keys (`EntityKeyMetadata`) — each with the stable
//! `MetadataId`s and object type codes a client may rely on.

use super::*;

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

pub(super) fn unknown_entity(name: &str) -> DvError {
    DvError::new(
        404,
        RESOURCE_NOT_FOUND,
        format!("Could not find an entity with LogicalName = '{name}'."),
    )
}

pub(super) fn unknown_attribute(table: &str, column: &str) -> DvError {
    DvError::new(
        404,
        RESOURCE_NOT_FOUND,
        format!("Could not find an attribute with LogicalName = '{column}' on entity '{table}'."),
    )
}

pub(super) fn metadata_id(kind: &str, name: &str) -> String {
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

pub(super) fn entity_schema_name(logical_name: &str) -> &str {
    KNOWN_ENTITIES
        .iter()
        .map(|e| (e.0, e.1))
        .chain(KNOWN_SCHEMA_NAMES)
        .find(|e| e.0 == logical_name)
        .map_or(logical_name, |e| e.1)
}

pub(super) fn entity_json(table: &Table) -> Map<String, Value> {
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
pub(super) fn metadata_type(t: ColumnType) -> &'static str {
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
pub(super) fn is_enum(t: ColumnType) -> bool {
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
pub(super) fn attribute_type(t: ColumnType) -> &'static str {
    match t {
        ColumnType::MultiSelectPicklist | ColumnType::Image => "Virtual",
        other => other.as_str(),
    }
}

/// A type name without `#` and the `Microsoft.Dynamics.CRM.` namespace.
pub(super) fn bare_type_name(name: &str) -> &str {
    let name = name.trim().trim_start_matches('#');
    name.strip_prefix(CRM).unwrap_or(name)
}

/// A whole number as a JSON integer (how Dataverse writes ranges of
/// integer columns), anything else as a float.
pub(super) fn number(n: f64) -> Value {
    if n.fract() == 0.0 && (i64::MIN as f64..=i64::MAX as f64).contains(&n) {
        json!(n as i64)
    } else {
        json!(n)
    }
}

pub(super) fn empty_label() -> Value {
    json!({ "LocalizedLabels": [], "UserLocalizedLabel": null })
}

pub(super) fn label_json(text: &str, id: &str) -> Value {
    let localized = json!({
        "Label": text,
        "LanguageCode": LANGUAGE_CODE,
        "IsManaged": false,
        "MetadataId": id,
        "HasChanged": null,
    });
    json!({ "LocalizedLabels": [localized.clone()], "UserLocalizedLabel": localized })
}

pub(super) fn attribute_json(table: &Table, column: &Column) -> Map<String, Value> {
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

pub(super) fn option_json(table: &Table, column: &Column, option: &OptionValue) -> Value {
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
pub(super) fn option_set_json(table: &Table, column: &Column) -> Option<Value> {
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

pub(super) fn key_json(table: &Table, key: &AlternateKey) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::test_support::*;

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
}
