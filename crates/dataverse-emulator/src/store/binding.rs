//! Reading a request body as Dataverse does: each value converted to its
//! column's type (with Dataverse's error code and wording when it does not
//! fit), navigation properties and `@odata.bind` references resolved to
//! records, annotations and unknown properties refused, and the cells of a
//! record turned back into wire values.

use super::*;

pub(super) fn literal_error(value: &Value, edm: &str) -> DvError {
    let shown = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    DvError::bad_request(format!(
        "Cannot convert the literal '{shown}' to the expected type '{edm}'."
    ))
}

pub(super) const MAX_UUID: Uuid = Uuid::from_u128(u128::MAX);

/// The message the Web API's OData reader gives for a lookup sent as a
/// plain value instead of `@odata.bind`.
pub(super) const LOOKUP_AS_VALUE: &str = "A 'PrimitiveValue' node with non-null value was found when trying to read the value of a navigation property; however, a 'StartArray' node, a 'StartObject' node, or a 'PrimitiveValue' node with null value was expected.";

pub(super) fn not_a_property(name: &str, table: &str) -> DvError {
    DvError::bad_request(format!(
        "Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{table}'."
    ))
}

pub(super) fn undeclared(name: &str) -> DvError {
    DvError::bad_request(format!(
        "An undeclared property '{name}' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values."
    ))
}

/// `owneridtype`, `customeridtype`: the target table of a lookup, which the
/// Web API exposes through the lookup's annotations, not as a property.
pub(super) fn is_lookup_type_column(def: &Table, col: &Column) -> bool {
    col.column_type == ColumnType::EntityName
        && col
            .name
            .strip_suffix("type")
            .is_some_and(|base| def.column(base).is_some_and(Column::is_lookup))
}

/// Columns the Web API shows as structural properties: not lookups (those
/// are `_x_value` and navigation properties), not party lists (activity
/// parties are a collection), not a lookup's type column.
pub(super) fn is_structural(def: &Table, col: &Column) -> bool {
    !col.is_lookup() && col.column_type != ColumnType::PartyList && !is_lookup_type_column(def, col)
}

/// Which columns deleting a record also deletes the referrer through:
/// Dataverse's parental relationships cascade a delete, referential ones
/// remove the link ("Configure table relationship cascading behavior",
/// powerapps-docs maker/data-platform). The store's approximation: a
/// referrer whose lookup is SystemRequired cannot exist without its parent
/// (an address, a case's customer, an activity party's activity), and notes,
/// activities' regarding and case resolutions belong to their record; every
/// other lookup is cleared.
pub(super) fn is_parental(def: &Table, col: &Column) -> bool {
    col.required_level == RequiredLevel::SystemRequired
        || matches!(col.name.as_str(), "objectid" | "regardingobjectid")
        || (def.logical_name == "incidentresolution" && col.name == "incidentid")
}

/// A column the platform itself refuses to create a record without, as
/// opposed to one only forms require: Dataverse "only enforces the
/// SystemRequired option" and "doesn't return an error when a column with
/// ApplicationRequired applied doesn't have a value" ("Column requirement
/// level", powerapps-docs entity-attribute-metadata). Of the SystemRequired
/// ones, ids, owner, state, type names, booleans and choices are filled by
/// the platform (SPEC §9); what it cannot invent is text, dates, numbers
/// and references.
pub(super) fn platform_required(def: &Table, col: &Column) -> bool {
    col.required_level == RequiredLevel::SystemRequired
        && col.valid_for_create != Some(false)
        && col.name != def.primary_id
        && col.name != "ownerid"
        && matches!(
            col.column_type,
            ColumnType::String
                | ColumnType::Memo
                | ColumnType::Lookup
                | ColumnType::Customer
                | ColumnType::DateTime
                | ColumnType::Money
                | ColumnType::Decimal
                | ColumnType::Double
        )
}

/// The `$<set>(<key>)` of an `@odata.bind` or `@odata.id`: relative,
/// absolute, or a full URL.
pub(super) fn split_reference(raw: &str) -> Result<(&str, &str), DvError> {
    let path = raw.split_once(API_PREFIX).map_or(raw, |(_, p)| p);
    let path = path.trim_start_matches('/');
    let bad = || {
        DvError::bad_request(format!(
            "'{raw}' is not a valid reference to a record: expected '/<entity set>(<id or key>)'."
        ))
    };
    let open = path.find('(').ok_or_else(bad)?;
    let set = &path[..open];
    if set.is_empty() || set.contains('/') || !path.ends_with(')') {
        return Err(bad());
    }
    Ok((set, &path[open + 1..path.len() - 1]))
}

pub(super) fn cell_int(cell: Option<&Cell>) -> Option<i64> {
    match cell {
        Some(Cell::Int(i)) => Some(*i),
        _ => None,
    }
}

pub(super) fn format_time(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

pub(super) fn format_date(days: i32) -> String {
    NaiveDate::from_num_days_from_ce_opt(days)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

pub(super) fn cell_value(cell: &Cell) -> Value {
    match cell {
        Cell::Bool(b) => Value::Bool(*b),
        Cell::Int(i) => json!(i),
        Cell::Num(n) => serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number),
        Cell::Short { .. } | Cell::Text(_) => {
            Value::String(cell.as_text().unwrap_or_default().to_string())
        }
        Cell::Time(t) => Value::String(format_time(*t)),
        Cell::Date(d) => Value::String(format_date(*d)),
        Cell::Ref(_, id) => Value::String(id.to_string()),
    }
}

// Reading request bodies: conversions, navigation properties, binds.
impl Store {
    pub(super) fn is_activity(&self, table: &str) -> bool {
        self.table_def(table)
            .is_some_and(|t| t.column("activitytypecode").is_some())
    }

    /// The largest note attachment: the organization row's
    /// `maxuploadfilesize`, which a client may change like Dataverse's.
    pub(super) fn max_upload_bytes(&self) -> u64 {
        let from_row = self.tid("organization").and_then(|t| {
            let data = &self.data[t as usize];
            let c = data.col("maxuploadfilesize")?;
            cell_int(data.records.get(&self.organization_id())?.get(c))
        });
        from_row.map_or(self.org.max_upload_bytes, |v| v.max(0) as u64)
    }

    pub(super) fn user_disabled(&self, user: Uuid) -> bool {
        self.tid("systemuser").is_some_and(|t| {
            let data = &self.data[t as usize];
            data.col("isdisabled")
                .and_then(|c| data.records.get(&user)?.get(c).cloned())
                == Some(Cell::Bool(true))
        })
    }

    /// A JSON value as the column stores it, or the error Dataverse gives:
    /// OData conversion errors first, then the platform's range checks.
    pub(super) fn to_cell(
        &self,
        def: &Table,
        col: &Column,
        value: &Value,
    ) -> Result<Cell, DvError> {
        let table = def.logical_name.as_str();
        let out_of_options = |v: i64| {
            let accepted: Vec<String> = col.options.iter().map(|o| o.value.to_string()).collect();
            DvError::new(
                400,
                error::PICKLIST_VALUE_OUT_OF_RANGE,
                format!(
                    "A validation error occurred. The value {v} of '{}' on record of type '{table}' is outside the valid range. Accepted Values: {}",
                    col.name,
                    accepted.join(",")
                ),
            )
        };
        let in_range = |v: f64| col.min.is_none_or(|m| v >= m) && col.max.is_none_or(|m| v <= m);
        match col.column_type {
            ColumnType::String | ColumnType::Memo | ColumnType::EntityName => {
                let s = value
                    .as_str()
                    .ok_or_else(|| literal_error(value, "Edm.String"))?;
                if let Some(max) = col.max_length {
                    // .NET strings count UTF-16 code units, and so does
                    // Dataverse's length check.
                    if s.encode_utf16().count() as i64 > max {
                        return Err(DvError::validation(format!(
                            "A validation error occurred. The length of the '{}' attribute of the '{table}' entity exceeded the maximum allowed length of '{max}'.",
                            col.name
                        )));
                    }
                }
                if col.name == "documentbody" {
                    self.check_attachment(s)?;
                }
                Ok(Cell::text(s))
            }
            ColumnType::Uniqueidentifier => value
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .map(|id| Cell::text(&id.to_string()))
                .ok_or_else(|| literal_error(value, "Edm.Guid")),
            ColumnType::Integer => {
                let v = value
                    .as_i64()
                    .filter(|v| i32::try_from(*v).is_ok())
                    .ok_or_else(|| literal_error(value, "Edm.Int32"))?;
                if !in_range(v as f64) {
                    return Err(DvError::new(
                        400,
                        error::INTEGER_OUT_OF_RANGE,
                        format!(
                            "A validation error occurred. An integer provided is outside of the allowed values for this attribute. ('{}' of '{table}': {v})",
                            col.name
                        ),
                    ));
                }
                Ok(Cell::Int(v))
            }
            ColumnType::BigInt => value
                .as_i64()
                .map(Cell::Int)
                .ok_or_else(|| literal_error(value, "Edm.Int64")),
            ColumnType::Picklist | ColumnType::State | ColumnType::Status => {
                let v = value
                    .as_i64()
                    .filter(|v| i32::try_from(*v).is_ok())
                    .ok_or_else(|| literal_error(value, "Edm.Int32"))?;
                if col.option(v as i32).is_none() {
                    return Err(out_of_options(v));
                }
                Ok(Cell::Int(v))
            }
            ColumnType::MultiSelectPicklist => {
                let s = value
                    .as_str()
                    .ok_or_else(|| literal_error(value, "Edm.String"))?;
                let mut values = Vec::new();
                for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let v: i32 = part
                        .parse()
                        .map_err(|_| literal_error(value, "Edm.String"))?;
                    if col.option(v).is_none() {
                        return Err(out_of_options(i64::from(v)));
                    }
                    values.push(v.to_string());
                }
                Ok(Cell::text(&values.join(",")))
            }
            ColumnType::Decimal | ColumnType::Money | ColumnType::Double => {
                let edm = if col.column_type == ColumnType::Double {
                    "Edm.Double"
                } else {
                    "Edm.Decimal"
                };
                let v = value.as_f64().ok_or_else(|| literal_error(value, edm))?;
                if !in_range(v) {
                    // The list has DecimalValueOutOfRange; money and
                    // doubles are held to the same range rule.
                    return Err(DvError::new(
                        400,
                        error::DECIMAL_OUT_OF_RANGE,
                        format!(
                            "A validation error occurred. A decimal value provided is outside of the allowed values for this attribute. ('{}' of '{table}': {v})",
                            col.name
                        ),
                    ));
                }
                Ok(Cell::Num(v))
            }
            ColumnType::Boolean => value
                .as_bool()
                .map(Cell::Bool)
                .ok_or_else(|| literal_error(value, "Edm.Boolean")),
            ColumnType::DateTime => {
                let s = value.as_str();
                let too_early = || {
                    DvError::new(
                        400,
                        error::INVALID_DATE_TIME,
                        format!(
                            "The date-time format is invalid, or value is outside the supported range. ('{}' of '{table}': dates start at 1753-01-01)",
                            col.name
                        ),
                    )
                };
                if col.is_date_only() {
                    let date = s
                        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                        .ok_or_else(|| literal_error(value, "Edm.Date"))?;
                    if date < min_supported_date() {
                        return Err(too_early());
                    }
                    Ok(Cell::Date(chrono::Datelike::num_days_from_ce(&date)))
                } else {
                    let at = s
                        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                        .ok_or_else(|| literal_error(value, "Edm.DateTimeOffset"))?;
                    if at.date_naive() < min_supported_date() {
                        return Err(too_early());
                    }
                    Ok(Cell::Time(at.timestamp()))
                }
            }
            ColumnType::Image => value
                .as_str()
                .filter(|s| base64::engine::general_purpose::STANDARD.decode(s).is_ok())
                .map(Cell::text)
                .ok_or_else(|| literal_error(value, "Edm.Binary")),
            ColumnType::Lookup
            | ColumnType::Customer
            | ColumnType::Owner
            | ColumnType::PartyList => Err(not_a_property(&col.name, table)),
        }
    }

    /// Notes carry their file as base64 text, and the org's limit applies
    /// to that text, not to the decoded bytes: "The maximum upload file
    /// size limit applies to the size of the file in Base64 encoding"
    /// ("File size limits", powerapps-docs files-images-overview), error
    /// `unManagedidsattachmentinvalidfilesize`.
    pub(super) fn check_attachment(&self, body: &str) -> Result<(), DvError> {
        if body.len() as u64 > self.max_upload_bytes() {
            return Err(DvError::new(
                400,
                error::ATTACHMENT_TOO_LARGE,
                "Attachment file size is too big.",
            ));
        }
        if base64::engine::general_purpose::STANDARD
            .decode(body)
            .is_err()
        {
            return Err(DvError::bad_request(
                "The value of 'documentbody' is not valid base64 text.",
            ));
        }
        Ok(())
    }

    /// The lookup column a navigation property sets, and the table it must
    /// point at when the name says. Names follow DESIGN.md: the column for
    /// single-target lookups and owners, `<column>_<target>` for
    /// multi-target ones, `regardingobjectid_<target>_<activity>` for an
    /// activity's regarding.
    pub(super) fn nav_column<'a>(
        &self,
        def: &'a Table,
        nav: &str,
    ) -> Option<(&'a Column, Option<String>)> {
        for col in def.columns.iter().filter(|c| c.is_lookup()) {
            if col.name == nav {
                if col.column_type == ColumnType::Owner {
                    return Some((col, None));
                }
                if let [only] = col.targets.as_slice() {
                    return Some((col, Some(only.clone())));
                }
                continue;
            }
            let Some(rest) = nav
                .strip_prefix(col.name.as_str())
                .and_then(|r| r.strip_prefix('_'))
            else {
                continue;
            };
            let suffix = format!("_{}", def.logical_name);
            for target in [Some(rest), rest.strip_suffix(suffix.as_str())]
                .into_iter()
                .flatten()
            {
                if self.target_allowed(col, target) {
                    return Some((col, Some(target.to_string())));
                }
            }
        }
        None
    }

    /// `activitypointer` stands for every activity table (an activity
    /// party's activity may be any of them).
    pub(super) fn target_allowed(&self, col: &Column, target: &str) -> bool {
        col.targets.iter().any(|t| t == target)
            || (col.targets.iter().any(|t| t == "activitypointer") && self.is_activity(target))
    }

    /// Whether `name` is something a body may annotate: a structural
    /// property, a lookup's `_x_value`, or a navigation property.
    pub(super) fn is_property(&self, def: &Table, name: &str) -> bool {
        def.column(name).is_some_and(|c| is_structural(def, c))
            || name
                .strip_prefix('_')
                .and_then(|n| n.strip_suffix("_value"))
                .and_then(|n| def.column(n))
                .is_some_and(Column::is_lookup)
            || self.nav_column(def, name).is_some()
    }

    /// `<nav>@odata.bind`: the record must exist, be of a table the column
    /// may point at, and, for an owner, be an enabled user.
    pub(super) fn resolve_bind(
        &self,
        nav: &str,
        col: &Column,
        forced: Option<&str>,
        raw: &str,
    ) -> Result<Cell, DvError> {
        let (set, key_text) = split_reference(raw)?;
        let target = self.table_for_set(set)?;
        if forced.is_some_and(|f| f != target) || !self.target_allowed(col, &target) {
            return Err(DvError::bad_request(format!(
                "'{raw}' is a {target} record, which the navigation property '{nav}' cannot point at."
            )));
        }
        let key = self.parse_key(&target, key_text)?;
        let id = self
            .find(&target, &key)?
            .ok_or_else(|| self.missing(&target, &key))?;
        // Disabled users cannot own records (SPEC §9); the platform says
        // `unManagedidsusernotenabled`.
        if col.column_type == ColumnType::Owner && target == "systemuser" && self.user_disabled(id)
        {
            return Err(DvError::new(
                400,
                error::USER_DISABLED,
                format!(
                    "The specified user is either disabled or is not a member of any business unit. (systemuser Id = {id})"
                ),
            ));
        }
        let t = self
            .tid(&target)
            .expect("a record was found, so its table has storage");
        Ok(Cell::Ref(t, id))
    }

    /// A lookup value given as a bare GUID (an alternate key's lookup part):
    /// the target table is whichever of the column's targets holds it.
    pub(super) fn ref_to(&self, col: &Column, id: Uuid) -> Option<Cell> {
        col.targets.iter().find_map(|target| {
            let t = self.tid(target)?;
            self.data[t as usize]
                .records
                .contains_key(&id)
                .then_some(Cell::Ref(t, id))
        })
    }

    /// Takes a request body apart: each property checked for existence,
    /// type, length, options, settability and, for binds, the target.
    pub(super) fn parse_body(
        &self,
        table: TableId,
        def: &Table,
        body: &Map<String, Value>,
        op: Op,
    ) -> Result<Parsed, DvError> {
        let name = def.logical_name.as_str();
        let data = &self.data[table as usize];
        let col_id = |column: &str| {
            data.col(column)
                .expect("sync_table gave every schema column an id")
        };
        let parties_property = format!("{name}_activity_parties");
        let mut parsed = Parsed::default();
        for (key, value) in body {
            if let Some(annotation) = key.strip_prefix('@') {
                // Bulk targets name their type; it must be this table's.
                if annotation == "odata.type" {
                    let given = value.as_str().unwrap_or_default().trim_start_matches('#');
                    let expected = format!("Microsoft.Dynamics.CRM.{name}");
                    if given != expected {
                        return Err(DvError::bad_request(format!(
                            "A resource with type '{given}' was found, but it is not assignable to the expected type '{expected}'. The type specified in the resource must be equal to either the expected type or a derived type."
                        )));
                    }
                }
                continue;
            }
            if let Some((property, annotation)) = key.split_once('@') {
                if annotation == "odata.bind" {
                    let (col, forced) = self
                        .nav_column(def, property)
                        .ok_or_else(|| undeclared(property))?;
                    check_settable(def, col, op)?;
                    let cell = match value {
                        Value::Null => None,
                        Value::String(raw) => {
                            Some(self.resolve_bind(property, col, forced.as_deref(), raw)?)
                        }
                        _ => {
                            return Err(DvError::bad_request(format!(
                                "The value of '{key}' must be the URL of a record."
                            )))
                        }
                    };
                    parsed.cells.push((col_id(&col.name), cell));
                } else if !self.is_property(def, property) {
                    // Other annotations (a formatted value echoed back) are
                    // ignored, as the OData reader ignores them.
                    return Err(undeclared(property));
                }
                continue;
            }
            if *key == parties_property && self.is_activity(name) {
                let items = match value {
                    Value::Array(items) => items,
                    _ => {
                        return Err(DvError::bad_request(format!(
                            "'{key}' must be an array of activityparty records."
                        )))
                    }
                };
                let mut parties = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::Object(party) => parties.push(party.clone()),
                        _ => {
                            return Err(DvError::bad_request(format!(
                                "Each item of '{key}' must be an activityparty record."
                            )))
                        }
                    }
                }
                parsed.parties = Some(parties);
                continue;
            }
            if let Some(lookup) = key.strip_prefix('_').and_then(|k| k.strip_suffix("_value")) {
                if def.column(lookup).is_some_and(Column::is_lookup) {
                    return Err(DvError::bad_request(
                        "CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.",
                    ));
                }
            }
            let Some(col) = def.column(key) else {
                return Err(not_a_property(key, name));
            };
            if col.is_lookup() {
                if !value.is_null() {
                    return Err(DvError::bad_request(LOOKUP_AS_VALUE));
                }
                check_settable(def, col, op)?;
                parsed.cells.push((col_id(&col.name), None));
                continue;
            }
            if !is_structural(def, col) {
                return Err(not_a_property(key, name));
            }
            if col.name == def.primary_id {
                parsed.id = match value {
                    Value::Null => None,
                    other => Some(
                        other
                            .as_str()
                            .and_then(|s| Uuid::parse_str(s).ok())
                            .ok_or_else(|| literal_error(other, "Edm.Guid"))?,
                    ),
                };
                continue;
            }
            check_settable(def, col, op)?;
            let cell = if value.is_null() {
                None
            } else {
                Some(self.to_cell(def, col, value)?)
            };
            if col.name == "overriddencreatedon" {
                if let Some(Cell::Time(at)) = &cell {
                    parsed.overridden_created = Some(*at);
                }
            }
            parsed.cells.push((col_id(&col.name), cell));
        }
        Ok(parsed)
    }
}

/// `IsValidForCreate` / `IsValidForUpdate` of the schema. The metadata
/// page says the platform ignores such a value; the emulator refuses it
/// instead (SPEC §7), because a loader that sends `statecode` on create or
/// `overriddencreatedon` on update would silently lose that data in a real
/// org, and refusing is how the loader finds out.
pub(super) fn check_settable(def: &Table, col: &Column, op: Op) -> Result<(), DvError> {
    let table = &def.logical_name;
    match op {
        Op::Create if col.valid_for_create == Some(false) => {
            let hint = if col.column_type == ColumnType::State {
                " Create the record, then set its state with an update."
            } else {
                ""
            };
            Err(DvError::new(
                400,
                error::NOT_VALID_FOR_CREATE,
                format!(
                    "A field that is not valid for create was specified: '{}' of '{table}' cannot be set when a record is created.{hint}",
                    col.name
                ),
            ))
        }
        Op::Update if col.valid_for_update == Some(false) => Err(DvError::new(
            400,
            error::NOT_VALID_FOR_UPDATE,
            format!(
                "A field that is not valid for update was specified: '{}' of '{table}' can only be set when the record is created.",
                col.name
            ),
        )),
        _ => Ok(()),
    }
}

pub(super) fn state_columns(def: &Table) -> Option<(&Column, &Column)> {
    let state = def
        .columns
        .iter()
        .find(|c| c.column_type == ColumnType::State)?;
    let status = def
        .columns
        .iter()
        .find(|c| c.column_type == ColumnType::Status)?;
    Some((state, status))
}

/// The status Dataverse sets when only a state is given: the state's
/// `DefaultStatus`, else its first status ("When you update the statecode
/// property, always set the desired statuscode ... each statecode column has
/// a single DefaultStatus value", powerapps-docs update-delete-entities-using-web-api).
pub(super) fn default_status(state: &Column, status: &Column, value: i64) -> Option<i64> {
    state
        .options
        .iter()
        .find(|o| i64::from(o.value) == value)
        .and_then(|o| o.default_status)
        .or_else(|| {
            status
                .options
                .iter()
                .find(|o| o.state.map(i64::from) == Some(value))
                .map(|o| o.value)
        })
        .map(i64::from)
}

pub(super) fn duplicate_id() -> DvError {
    DvError::new(
        412,
        error::DUPLICATE_RECORD,
        "A record with matching key values already exists.",
    )
}

pub(super) fn required_missing(def: &Table, col: &Column) -> DvError {
    let table = def.logical_name.as_str();
    match (table, col.name.as_str()) {
        ("incident", "customerid") => DvError::new(
            400,
            error::INCIDENT_CUSTOMER_MISSING,
            "You should specify a parent contact or account.",
        ),
        ("contract", "customerid") => DvError::new(
            400,
            error::CONTRACT_CUSTOMER_MISSING,
            "Account is required to save a contract.",
        ),
        _ => DvError::new(
            400,
            error::REQUIRED_MISSING,
            format!(
                "A value for the required attribute '{}' of the '{table}' entity was not provided; the attribute is SystemRequired and cannot be null.",
                col.name
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::*;

    #[test]
    fn bind_to_a_missing_parent_fails_and_writes_nothing() {
        let mut s = store();
        let ghost = Uuid::new_v4();
        let err = s
            .create(
                "contact",
                &body(json!({
                    "lastname": "Reyes",
                    "parentcustomerid_account@odata.bind": format!("/accounts({ghost})"),
                })),
                ME,
            )
            .unwrap_err();
        assert_eq!((err.status, err.code), (404, error::OBJECT_DOES_NOT_EXIST));
        assert_eq!(
            err.message,
            format!("account With Id = {ghost} Does Not Exist")
        );
        assert_eq!(s.count("contact"), 0);
        // By alternate key too, with the key wording.
        s.schema_mut()
            .add_key("account", "st_record_key", vec!["st_record_id".into()])
            .unwrap();
        let err = s
            .create(
                "contact",
                &body(json!({
                    "lastname": "Reyes",
                    "parentcustomerid_account@odata.bind": "/accounts(st_record_id='nope')",
                })),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::OBJECT_DOES_NOT_EXIST);
        assert_eq!(
            err.message,
            "A record with the specified key values does not exist in account entity"
        );
        assert_eq!(s.count("contact"), 0);
    }

    #[test]
    fn binds_check_their_navigation_property_and_target() {
        let mut s = store();
        let acme = account(&mut s, "Acme");
        let contact = s
            .create("contact", &body(json!({"lastname": "X"})), ME)
            .unwrap();
        // A contact record bound where the property says account.
        let err = s
            .create(
                "contact",
                &body(
                    json!({"parentcustomerid_account@odata.bind": format!("/contacts({contact})")}),
                ),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::BAD_REQUEST);
        // Multi-target lookups need the suffixed name.
        let err = s
            .create(
                "contact",
                &body(json!({"parentcustomerid@odata.bind": format!("/accounts({acme})")})),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::BAD_REQUEST);
        assert!(
            err.message
                .starts_with("An undeclared property 'parentcustomerid'"),
            "{}",
            err.message
        );
        // Full URLs and bare set paths are both references.
        for reference in [
            format!("https://org.example.com/api/data/v9.2/accounts({acme})"),
            format!("accounts({acme})"),
        ] {
            s.create(
                "contact",
                &body(json!({"parentcustomerid_account@odata.bind": reference})),
                ME,
            )
            .unwrap();
        }
        // A lookup as a plain value, or its read-only _x_value.
        let err = s
            .create(
                "account",
                &body(json!({"primarycontactid": contact.to_string()})),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.message, LOOKUP_AS_VALUE);
        let err = s
            .create(
                "account",
                &body(json!({"_primarycontactid_value": contact.to_string()})),
                ME,
            )
            .unwrap_err();
        assert!(err.message.starts_with("CRM do not support direct update"));
        // Single-target lookups bind by the column name.
        let id = s
            .create(
                "account",
                &body(json!({"name": "B", "primarycontactid@odata.bind": format!("/contacts({contact})")})),
                ME,
            )
            .unwrap();
        assert_eq!(
            get(&s, "account", id)["_primarycontactid_value"],
            json!(contact.to_string())
        );
    }

    #[test]
    fn unknown_properties_and_annotations() {
        let mut s = store();
        let err = s
            .create("account", &body(json!({"nmae": "x"})), ME)
            .unwrap_err();
        assert_eq!((err.status, err.code), (400, error::BAD_REQUEST));
        assert_eq!(
            err.message,
            "Could not find a property named 'nmae' on type 'Microsoft.Dynamics.CRM.account'."
        );
        let err = s
            .create(
                "account",
                &body(json!({"nmae@odata.bind": "/accounts(x)"})),
                ME,
            )
            .unwrap_err();
        assert!(err.message.starts_with("An undeclared property 'nmae' which only has property annotations in the payload but no property value was found in the payload."));
        // Party lists and lookup type columns are not properties.
        for key in ["to", "owneridtype"] {
            let target = if key == "to" { "phonecall" } else { "account" };
            let err = s
                .create(target, &body(json!({ key: "x" })), ME)
                .unwrap_err();
            assert!(
                err.message.starts_with("Could not find a property named"),
                "{key}"
            );
        }
        // @odata.type (bulk targets) is accepted when it names the table;
        // echoed annotations on known properties are ignored.
        s.create(
            "account",
            &body(json!({
                "@odata.type": "Microsoft.Dynamics.CRM.account",
                "name": "Typed",
                "name@OData.Community.Display.V1.FormattedValue": "Typed",
            })),
            ME,
        )
        .unwrap();
        let err = s
            .create(
                "account",
                &body(json!({"@odata.type": "Microsoft.Dynamics.CRM.contact"})),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::BAD_REQUEST);
    }

    #[test]
    fn values_must_have_the_column_type() {
        let mut s = store();
        let cases = [
            ("prioritycode", json!("1"), "Edm.Int32"),
            ("title", json!(5), "Edm.String"),
            ("st_scheduledstart", json!("tomorrow"), "Edm.DateTimeOffset"),
            (
                "st_scheduledstart",
                json!("2024-05-01"),
                "Edm.DateTimeOffset",
            ),
        ];
        let acme = account(&mut s, "Acme");
        for (column, value, edm) in cases {
            let err = s
                .create(
                    "incident",
                    &body(json!({
                        "customerid_account@odata.bind": format!("/accounts({acme})"),
                        column: value,
                    })),
                    ME,
                )
                .unwrap_err();
            assert_eq!(err.code, error::BAD_REQUEST, "{column}");
            assert!(
                err.message
                    .ends_with(&format!("to the expected type '{edm}'.")),
                "{}",
                err.message
            );
        }
        // DateOnly columns take a date; instants come back in UTC.
        let eq = s
            .create(
                "st_equipment",
                &body(json!({"st_name": "Boiler", "st_installdate": "2019-03-04"})),
                ME,
            )
            .unwrap();
        assert_eq!(
            get(&s, "st_equipment", eq)["st_installdate"],
            json!("2019-03-04")
        );
        let err = s
            .create(
                "st_equipment",
                &body(json!({"st_installdate": "2019-03-04T10:00:00Z"})),
                ME,
            )
            .unwrap_err();
        assert!(err.message.contains("'Edm.Date'"));
        let case = s
            .create(
                "incident",
                &body(json!({
                    "customerid_account@odata.bind": format!("/accounts({acme})"),
                    "st_scheduledstart": "2024-05-01T15:00:00+02:00",
                })),
                ME,
            )
            .unwrap();
        assert_eq!(
            get(&s, "incident", case)["st_scheduledstart"],
            json!("2024-05-01T13:00:00Z")
        );
        let err = s
            .create(
                "st_equipment",
                &body(json!({"st_name": "Old", "st_installdate": "1700-01-01"})),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::INVALID_DATE_TIME);
        // Money, doubles and range checks.
        let err = s
            .create("account", &body(json!({"address1_latitude": 91.0})), ME)
            .unwrap_err();
        assert_eq!(err.code, error::DECIMAL_OUT_OF_RANGE);
        let err = s
            .create(
                "account",
                &body(json!({"address1_utcoffset": 5_000_000_000_i64})),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::BAD_REQUEST);
    }

    #[test]
    fn max_length_counts_utf16_units() {
        let mut s = store();
        let err = s
            .create("account", &body(json!({"name": "x".repeat(161)})), ME)
            .unwrap_err();
        assert_eq!((err.status, err.code), (400, error::VALIDATION_ERROR));
        assert_eq!(
            err.message,
            "A validation error occurred. The length of the 'name' attribute of the 'account' entity exceeded the maximum allowed length of '160'."
        );
        account(&mut s, &"x".repeat(160));
        // An emoji is two UTF-16 units, as .NET counts it.
        account(&mut s, &"😀".repeat(80));
        let err = s
            .create("account", &body(json!({"name": "😀".repeat(81)})), ME)
            .unwrap_err();
        assert_eq!(err.code, error::VALIDATION_ERROR);
        // "é" is one unit however many bytes.
        account(&mut s, &"é".repeat(160));
        // Updates are held to it too.
        let a = account(&mut s, "short");
        let err = s
            .write(
                "account",
                &RecordKey::Id(a),
                &body(json!({"telephone1": "9".repeat(51)})),
                WriteMode::UpdateOnly,
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::VALIDATION_ERROR);
    }

    #[test]
    fn option_values_must_exist() {
        let mut s = store();
        let acme = account(&mut s, "Acme");
        let err = s
            .create(
                "incident",
                &body(json!({
                    "customerid_account@odata.bind": format!("/accounts({acme})"),
                    "prioritycode": 100_000_000,
                })),
                ME,
            )
            .unwrap_err();
        assert_eq!(
            (err.status, err.code),
            (400, error::PICKLIST_VALUE_OUT_OF_RANGE)
        );
        assert_eq!(
            err.message,
            "A validation error occurred. The value 100000000 of 'prioritycode' on record of type 'incident' is outside the valid range. Accepted Values: 1,2,3"
        );
        // Once InsertOptionValue added it, the value is accepted.
        let value = s
            .schema_mut()
            .insert_option("incident", "prioritycode", None, "Critical")
            .unwrap();
        assert_eq!(value, 100_000_000);
        let case = s
            .create(
                "incident",
                &body(json!({
                    "customerid_account@odata.bind": format!("/accounts({acme})"),
                    "prioritycode": value,
                })),
                ME,
            )
            .unwrap();
        assert_eq!(get(&s, "incident", case)["prioritycode"], json!(value));
    }

    #[test]
    fn statecode_cannot_be_set_on_create_unless_the_schema_allows_it() {
        let mut s = store();
        let err = s
            .create("account", &body(json!({"name": "A", "statecode": 1})), ME)
            .unwrap_err();
        assert_eq!((err.status, err.code), (400, error::NOT_VALID_FOR_CREATE));
        assert!(
            err.message.contains("'statecode' of 'account'"),
            "{}",
            err.message
        );
        assert_eq!(s.count("account"), 0);
        // statuscode alone is valid for create but must fit the default state.
        let err = s
            .create("account", &body(json!({"name": "A", "statuscode": 2})), ME)
            .unwrap_err();
        assert_eq!(err.code, error::STATE_STATUS_MISMATCH);
        // product.statecode is valid for create in the schema.
        let p = s
            .create(
                "product",
                &body(json!({
                    "name": "Filter",
                    "productnumber": "F-1",
                    "statecode": 2,
                    "defaultuomscheduleid@odata.bind": format!("/uomschedules({})", s.default_unit_group_id()),
                    "defaultuomid@odata.bind": format!("/uoms({})", s.primary_unit_id()),
                })),
                ME,
            )
            .unwrap();
        let row = get(&s, "product", p);
        assert_eq!(
            (row["statecode"].clone(), row["statuscode"].clone()),
            (json!(2), json!(0))
        );
    }

    #[test]
    fn overriddencreatedon_is_for_create_only() {
        let mut s = store();
        let acme = account(&mut s, "Acme");
        let call = s
            .create(
                "phonecall",
                &body(json!({
                    "subject": "Called about the boiler",
                    "overriddencreatedon": "2019-06-01T09:30:00Z",
                    "regardingobjectid_account_phonecall@odata.bind": format!("/accounts({acme})"),
                })),
                ME,
            )
            .unwrap();
        let row = get(&s, "phonecall", call);
        assert_eq!(row["createdon"], json!("2019-06-01T09:30:00Z"));
        assert_ne!(row["overriddencreatedon"], json!("2019-06-01T09:30:00Z"));
        assert_eq!(row["_regardingobjectid_value"], json!(acme.to_string()));
        assert_eq!(row["activitytypecode"], json!("phonecall"));
        let err = s
            .write(
                "phonecall",
                &RecordKey::Id(call),
                &body(json!({"overriddencreatedon": "2018-01-01T00:00:00Z"})),
                WriteMode::UpdateOnly,
                ME,
            )
            .unwrap_err();
        assert_eq!((err.status, err.code), (400, error::NOT_VALID_FOR_UPDATE));
        assert!(err.message.contains("'overriddencreatedon' of 'phonecall'"));
        assert_eq!(
            get(&s, "phonecall", call)["createdon"],
            json!("2019-06-01T09:30:00Z")
        );
    }

    #[test]
    fn attachments_are_limited_by_their_base64_size() {
        let org = OrgSettings {
            max_upload_bytes: 16,
            ..OrgSettings::default()
        };
        let mut s = Store::new(Schema::builtin("st"), org);
        let acme = account(&mut s, "Acme");
        let note = |text: &str| {
            body(json!({
                "subject": "PM routine",
                "filename": "routine.txt",
                "mimetype": "text/plain",
                "documentbody": base64::engine::general_purpose::STANDARD.encode(text),
                "objectid_account@odata.bind": format!("/accounts({acme})"),
            }))
        };
        // 12 bytes of text are 16 base64 characters: exactly the limit.
        let ok = s.create("annotation", &note("twelve bytes"), ME).unwrap();
        let row = get(&s, "annotation", ok);
        assert_eq!(row["filesize"], json!(12));
        assert_eq!(row["isdocument"], json!(true));
        assert_eq!(row["objecttypecode"], json!("account"));
        assert_eq!(row["_objectid_value"], json!(acme.to_string()));
        let err = s
            .create("annotation", &note("thirteen byte"), ME)
            .unwrap_err();
        assert_eq!((err.status, err.code), (400, error::ATTACHMENT_TOO_LARGE));
        assert_eq!(err.message, "Attachment file size is too big.");
        assert_eq!(s.count("annotation"), 1);
        let err = s
            .create(
                "annotation",
                &body(json!({"documentbody": "not base64!"})),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::BAD_REQUEST);
        // The org's setting is the organization row, as in Dataverse.
        s.write(
            "organization",
            &RecordKey::Id(s.organization_id()),
            &body(json!({"maxuploadfilesize": 1024})),
            WriteMode::UpdateOnly,
            ME,
        )
        .unwrap();
        s.create("annotation", &note("thirteen byte"), ME).unwrap();
        // A note without a document.
        let plain = s
            .create("annotation", &body(json!({"notetext": "hello"})), ME)
            .unwrap();
        assert_eq!(get(&s, "annotation", plain)["isdocument"], json!(false));
    }
}
