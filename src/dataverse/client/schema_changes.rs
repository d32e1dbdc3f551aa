//! The schema changes `ferry plan --apply` makes: custom tables, columns
//! (lookups as one-to-many relationships), option values, alternate keys,
//! N:N relationships, and publishing them.

use super::*;

/// English (United States): the language of every label ferry creates.
const LANGUAGE_CODE: i64 = 1033;

impl DataverseClient {
    /// Creates a column on an existing table. Lookups are created the way
    /// Dataverse requires, as a one-to-many relationship whose `Lookup` is
    /// the column (`POST RelationshipDefinitions`); other types through
    /// `POST EntityDefinitions(LogicalName='t')/Attributes`.
    pub async fn create_column(&self, table: &str, column: &Column) -> DvResult<()> {
        check_name(table, "table")?;
        check_name(&column.name, "column")?;
        if column.is_lookup() || column.column_type == ColumnType::PartyList {
            return self.create_lookup(table, column).await;
        }
        let body = attribute_body(column, false)?;
        let path = format!("EntityDefinitions(LogicalName='{table}')/Attributes");
        let spec = self.spec(Method::POST, &path, Some(&body), &[])?;
        self.run(&spec).await?;
        Ok(())
    }

    pub(super) async fn create_lookup(&self, table: &str, column: &Column) -> DvResult<()> {
        let target = match (column.column_type, column.targets.as_slice()) {
            (ColumnType::Lookup, [target]) => target,
            _ => {
                return Err(DvClientError::Invalid(format!(
                    "{table}.{} is a {} column with targets [{}]; ferry creates lookups to exactly one table (customer, owner and party-list columns belong to the platform)",
                    column.name,
                    column.column_type.as_str(),
                    column.targets.join(", ")
                )))
            }
        };
        check_name(target, "table")?;
        let lookup = json!({
            "@odata.type": format!("{CRM}LookupAttributeMetadata"),
            "AttributeType": "Lookup",
            "AttributeTypeName": {"Value": "LookupType"},
            "SchemaName": column.name,
            "DisplayName": label(&display_name(&column.name)),
            "Description": label(""),
            "RequiredLevel": required_level(column.required_level),
        });
        let prefix = column.name.split('_').next().unwrap_or("ferry");
        let relationship = json!({
            "@odata.type": format!("{CRM}OneToManyRelationshipMetadata"),
            "SchemaName": format!("{prefix}_{target}_{}_{}", unprefixed(table), unprefixed(&column.name)),
            "ReferencedEntity": target,
            "ReferencedAttribute": primary_id_of(target),
            "ReferencingEntity": table,
            // Deleting a parent clears the link rather than the child: a
            // rollback deletes children first anyway, and an analyst's
            // manual delete must not cascade through migrated data.
            "CascadeConfiguration": {
                "Assign": "NoCascade", "Delete": "RemoveLink", "Merge": "NoCascade",
                "Reparent": "NoCascade", "Share": "NoCascade", "Unshare": "NoCascade",
            },
            "Lookup": lookup,
        });
        let spec = self.spec(
            Method::POST,
            "RelationshipDefinitions",
            Some(&relationship),
            &[],
        )?;
        match self.run(&spec).await {
            Ok(_) => Ok(()),
            // The in-tree emulator has no RelationshipDefinitions route and
            // takes the lookup with its Targets on the Attributes collection
            // instead; a real org always knows the segment.
            Err(e) if matches!(e.status(), Some(404 | 405)) => {
                let mut body = lookup;
                body["Targets"] = json!([target]);
                let path = format!("EntityDefinitions(LogicalName='{table}')/Attributes");
                let spec = self.spec(Method::POST, &path, Some(&body), &[])?;
                self.run(&spec).await.map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    /// Creates a custom table: first the table with its primary name
    /// column (the only attribute Dataverse takes in the create body), then
    /// every other column ferry defines, then its alternate keys. Columns
    /// the platform adds itself (id, owner, state, status,
    /// `overriddencreatedon`, currency) are not sent.
    pub async fn create_table(&self, table: &Table) -> DvResult<()> {
        check_name(&table.logical_name, "table")?;
        let ownership = match table.ownership {
            Ownership::UserOwned => "UserOwned",
            Ownership::OrganizationOwned => "OrganizationOwned",
            other => {
                return Err(DvClientError::Invalid(format!(
                    "{} is {}-owned; a new table can only be user- or organization-owned",
                    table.logical_name,
                    other.as_str()
                )))
            }
        };
        let primary = table.column(&table.primary_name).ok_or_else(|| {
            DvClientError::Invalid(format!(
                "{} names {} as its primary name but has no such column",
                table.logical_name, table.primary_name
            ))
        })?;
        if primary.column_type != ColumnType::String {
            return Err(DvClientError::Invalid(format!(
                "the primary name {}.{} must be a text column",
                table.logical_name, primary.name
            )));
        }
        let title = display_name(&table.logical_name);
        let body = json!({
            "@odata.type": format!("{CRM}EntityMetadata"),
            "SchemaName": table.logical_name,
            "DisplayName": label(&title),
            "DisplayCollectionName": label(&format!("{title}s")),
            "Description": label(&format!("Created by ferry for {title} records migrated from ServiceTracker.")),
            "OwnershipType": ownership,
            "EntitySetName": table.entity_set_name,
            "IsActivity": false,
            "HasActivities": false,
            // Notes carry attachments and history (SPEC §10).
            "HasNotes": true,
            "PrimaryNameAttribute": primary.name,
            "Attributes": [attribute_body(primary, true)?],
        });
        let spec = self.spec(Method::POST, "EntityDefinitions", Some(&body), &[])?;
        self.run(&spec).await?;
        for column in &table.columns {
            if column.name == table.primary_name || platform_column(table, column) {
                continue;
            }
            self.create_column(&table.logical_name, column).await?;
        }
        for key in &table.keys {
            let columns: Vec<&str> = key.columns.iter().map(String::as_str).collect();
            self.create_key(&table.logical_name, &key.name, &columns)
                .await?;
        }
        Ok(())
    }

    /// `InsertOptionValue` on a local choice column; `value: None` lets
    /// Dataverse pick the next value in the publisher's range. Returns the
    /// value the option got.
    pub async fn insert_option_value(
        &self,
        table: &str,
        column: &str,
        value: Option<i32>,
        option_label: &str,
    ) -> DvResult<i32> {
        check_name(table, "table")?;
        check_name(column, "column")?;
        let mut body = json!({
            "EntityLogicalName": table,
            "AttributeLogicalName": column,
            "Label": label(option_label),
        });
        if let Some(v) = value {
            body["Value"] = json!(v);
        }
        let spec = self.spec(Method::POST, "InsertOptionValue", Some(&body), &[])?;
        let reply = self.run(&spec).await?;
        let answer = parse_json(&spec, &reply)?;
        answer
            .get("NewOptionValue")
            .and_then(Value::as_i64)
            .and_then(|v| i32::try_from(v).ok())
            .ok_or_else(|| {
                DvClientError::Transport(format!(
                    "{} was answered without a NewOptionValue",
                    spec.what
                ))
            })
    }

    /// Creates an alternate key. A real org builds the key's index in the
    /// background: it is usable once `EntityKeyIndexStatus` is `Active`.
    pub async fn create_key(&self, table: &str, name: &str, columns: &[&str]) -> DvResult<()> {
        check_name(table, "table")?;
        check_name(name, "key")?;
        for column in columns {
            check_name(column, "column")?;
        }
        let body = json!({
            "SchemaName": name,
            "DisplayName": label(&display_name(name)),
            "KeyAttributes": columns,
        });
        let path = format!("EntityDefinitions(LogicalName='{table}')/Keys");
        let spec = self.spec(Method::POST, &path, Some(&body), &[])?;
        self.run(&spec).await?;
        Ok(())
    }

    /// Creates an N:N relationship (`ManyToManyRelationshipMetadata`,
    /// Microsoft "Create and update table relationships using the Web API").
    pub async fn create_many_to_many(
        &self,
        name: &str,
        table1: &str,
        table2: &str,
    ) -> DvResult<()> {
        check_name(name, "relationship")?;
        check_name(table1, "table")?;
        check_name(table2, "table")?;
        let body = json!({
            "@odata.type": "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata",
            "SchemaName": name,
            "IntersectEntityName": name,
            "Entity1LogicalName": table1,
            "Entity2LogicalName": table2,
        });
        let spec = self.spec(Method::POST, "RelationshipDefinitions", Some(&body), &[])?;
        self.run(&spec).await?;
        Ok(())
    }

    /// `PublishAllXml`: makes new columns and options visible in forms and
    /// views (the Web API can use them before that).
    pub async fn publish_all(&self) -> DvResult<()> {
        let spec = self.spec(Method::POST, "PublishAllXml", Some(&json!({})), &[])?;
        self.run(&spec).await?;
        Ok(())
    }
}

/// A `Label` with one English localized label.
pub(super) fn label(text: &str) -> Value {
    json!({
        "@odata.type": format!("{CRM}Label"),
        "LocalizedLabels": [{
            "@odata.type": format!("{CRM}LocalizedLabel"),
            "Label": text,
            "LanguageCode": LANGUAGE_CODE,
        }],
    })
}

pub(super) fn required_level(level: RequiredLevel) -> Value {
    // SystemRequired is the platform's own; a customizer can ask for
    // ApplicationRequired at most.
    let level = match level {
        RequiredLevel::SystemRequired => RequiredLevel::ApplicationRequired,
        other => other,
    };
    json!({
        "Value": level.as_str(),
        "CanBeChanged": true,
        "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
    })
}

pub(super) fn unprefixed(name: &str) -> &str {
    name.split_once('_').map_or(name, |(_, rest)| rest)
}

/// `st_billing_contact` → `Billing contact`: the only label ferry knows.
pub(super) fn display_name(name: &str) -> String {
    let text = unprefixed(name).replace('_', " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => name.to_string(),
    }
}

/// The primary id a relationship references: `<table>id`, except for
/// activities, which share `activityid`.
pub(super) fn primary_id_of(table: &str) -> String {
    const ACTIVITIES: [&str; 6] = ["phonecall", "email", "appointment", "task", "letter", "fax"];
    if ACTIVITIES.contains(&table) {
        "activityid".to_string()
    } else {
        format!("{table}id")
    }
}

/// Columns Dataverse adds to every new table (or with its first money
/// column), which a create request must not name.
pub(super) fn platform_column(table: &Table, column: &Column) -> bool {
    column.name == table.primary_id
        || matches!(
            column.column_type,
            ColumnType::Uniqueidentifier
                | ColumnType::Owner
                | ColumnType::EntityName
                | ColumnType::State
                | ColumnType::Status
        )
        || matches!(
            column.name.as_str(),
            "overriddencreatedon"
                | "transactioncurrencyid"
                | "exchangerate"
                | "createdon"
                | "modifiedon"
                | "createdby"
                | "modifiedby"
                | "owningbusinessunit"
                | "versionnumber"
                | "importsequencenumber"
                | "timezoneruleversionnumber"
                | "utcconversiontimezonecode"
        )
}

/// A whole number as a JSON integer, anything else as a float.
pub(super) fn number(n: f64) -> Value {
    if n.fract() == 0.0 && (i64::MIN as f64..=i64::MAX as f64).contains(&n) {
        json!(n as i64)
    } else {
        json!(n)
    }
}

/// The body that creates `column` ("Create and update column definitions
/// using the Web API" on learn.microsoft.com).
pub(super) fn attribute_body(column: &Column, primary_name: bool) -> DvResult<Value> {
    let t = column.column_type;
    let (metadata_type, attribute_type) = match t {
        ColumnType::String => ("StringAttributeMetadata", "String"),
        ColumnType::Memo => ("MemoAttributeMetadata", "Memo"),
        ColumnType::Integer => ("IntegerAttributeMetadata", "Integer"),
        ColumnType::BigInt => ("BigIntAttributeMetadata", "BigInt"),
        ColumnType::Decimal => ("DecimalAttributeMetadata", "Decimal"),
        ColumnType::Double => ("DoubleAttributeMetadata", "Double"),
        ColumnType::Money => ("MoneyAttributeMetadata", "Money"),
        ColumnType::Boolean => ("BooleanAttributeMetadata", "Boolean"),
        ColumnType::DateTime => ("DateTimeAttributeMetadata", "DateTime"),
        ColumnType::Picklist => ("PicklistAttributeMetadata", "Picklist"),
        // Multi-select choices are `Virtual` to the metadata API.
        ColumnType::MultiSelectPicklist => ("MultiSelectPicklistAttributeMetadata", "Virtual"),
        other => {
            return Err(DvClientError::Invalid(format!(
                "ferry does not create {} columns like {} (lookups go through create_column; id, owner, state, status and image columns belong to the platform)",
                other.as_str(),
                column.name
            )))
        }
    };
    let mut a = Map::new();
    let mut put = |key: &str, value: Value| {
        a.insert(key.to_string(), value);
    };
    put("@odata.type", json!(format!("{CRM}{metadata_type}")));
    put("SchemaName", json!(column.name));
    put("AttributeType", json!(attribute_type));
    put(
        "AttributeTypeName",
        json!({ "Value": format!("{}Type", t.as_str()) }),
    );
    put("DisplayName", label(&display_name(&column.name)));
    put("Description", label(""));
    put("RequiredLevel", required_level(column.required_level));
    if primary_name {
        put("IsPrimaryName", json!(true));
    }
    let range = |put: &mut dyn FnMut(&str, Value)| {
        if let Some(min) = column.min {
            put("MinValue", number(min));
        }
        if let Some(max) = column.max {
            put("MaxValue", number(max));
        }
    };
    match t {
        ColumnType::String => {
            put("MaxLength", json!(column.max_length.unwrap_or(100)));
            put(
                "FormatName",
                json!({ "Value": column.format.as_deref().unwrap_or("Text") }),
            );
        }
        ColumnType::Memo => {
            put("MaxLength", json!(column.max_length.unwrap_or(2000)));
            put(
                "Format",
                json!(column.format.as_deref().unwrap_or("TextArea")),
            );
        }
        ColumnType::Integer => {
            range(&mut put);
            put("Format", json!(column.format.as_deref().unwrap_or("None")));
        }
        ColumnType::BigInt => range(&mut put),
        ColumnType::Decimal | ColumnType::Double => {
            range(&mut put);
            if let Some(p) = column.precision {
                put("Precision", json!(p));
            }
        }
        ColumnType::Money => {
            range(&mut put);
            if let Some(p) = column.precision {
                put("Precision", json!(p));
                // 0: the column's own Precision, not the currency's.
                put("PrecisionSource", json!(0));
            }
        }
        ColumnType::DateTime => {
            let behavior = column.behavior.as_deref().unwrap_or("UserLocal");
            let format = column
                .format
                .as_deref()
                .unwrap_or(if behavior == "DateOnly" {
                    "DateOnly"
                } else {
                    "DateAndTime"
                });
            put("Format", json!(format));
            put("DateTimeBehavior", json!({ "Value": behavior }));
        }
        ColumnType::Boolean => {
            let text = |value: i32, fallback: &str| {
                column
                    .option(value)
                    .map_or(fallback.to_string(), |o| o.label.clone())
            };
            put("DefaultValue", json!(false));
            put(
                "OptionSet",
                json!({
                    "@odata.type": format!("{CRM}BooleanOptionSetMetadata"),
                    "TrueOption": {"Value": 1, "Label": label(&text(1, "Yes"))},
                    "FalseOption": {"Value": 0, "Label": label(&text(0, "No"))},
                }),
            );
        }
        ColumnType::Picklist | ColumnType::MultiSelectPicklist => {
            let options: Vec<Value> = column
                .options
                .iter()
                .map(|o| json!({"Value": o.value, "Label": label(&o.label)}))
                .collect();
            put(
                "OptionSet",
                json!({
                    "@odata.type": format!("{CRM}OptionSetMetadata"),
                    "IsGlobal": false,
                    "OptionSetType": "Picklist",
                    "Options": options,
                }),
            );
        }
        _ => {}
    }
    Ok(Value::Object(a))
}
