//! Reading metadata pulled from a real org (`--metadata FILE`): the
//! `RetrieveMetadataChanges` response or `EntityDefinitions?$expand=Attributes`
//! into the emulator's tables, so it can hold an org's real schema rather
//! than the shared contract. ferry's client has a reader of its own for the
//! same shapes: the emulator and ferry share data, not code.

use super::*;

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

/// Reads metadata pulled from a real org into the emulator's tables, so the
/// emulator can hold an org's real schema rather than
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

pub(super) fn org_entities(json: &Value) -> Result<&[Value], String> {
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

pub(super) fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// `{"Value": "x"}` or `"x"`, from a pulled definition.
pub(super) fn managed_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    match v.get(key)? {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("Value").and_then(Value::as_str),
        _ => None,
    }
}

pub(super) enum ReadAttribute {
    Column(Column, AttributeFlags),
    Skipped(String, String),
}

#[derive(Default)]
pub(super) struct AttributeFlags {
    primary_id: bool,
    primary_name: bool,
}

pub(super) fn org_table(
    entity: &Value,
    skipped: &mut Vec<SkippedAttribute>,
) -> Result<Table, String> {
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

pub(super) fn org_column(a: &Value) -> Result<ReadAttribute, String> {
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

pub(super) fn org_options(
    set: &Value,
    column_type: ColumnType,
) -> Result<Vec<OptionValue>, String> {
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
    use crate::metadata::test_support::*;

    const ORG_SAMPLE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/reference/dataverse/account-metadata.retrievemetadatachanges.json"
    );

    fn org_sample() -> Value {
        let text = std::fs::read_to_string(ORG_SAMPLE)
            .unwrap_or_else(|e| panic!("reading {ORG_SAMPLE}: {e}"));
        serde_json::from_str(&text).expect("the sample is JSON")
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
