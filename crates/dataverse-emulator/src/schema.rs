//! The emulator's model of what an org holds: its tables, their columns,
//! option values and alternate keys, and the changes a client may make to
//! them through the metadata API (create table, create column,
//! `InsertOptionValue`, create key) or a `--metadata FILE` pulled from a real
//! org.
//!
//! It is the emulator's own, not ferry's plan: ferry and the emulator share
//! the table contract as DATA. The emulator seeds itself from ferry's
//! `src/dataverse/tables.json` (Microsoft's columns plus the custom ones a
//! migration creates, with a `{prefix}` placeholder for the publisher
//! prefix), so both read the same facts while neither depends on the
//! other's code. [`Schema::builtin`] substitutes the prefix exactly as
//! ferry's schema does.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// Where the publisher prefix goes in the custom part of `tables.json`.
const PREFIX_PLACEHOLDER: &str = "{prefix}";

/// A column's type, spelled as the reference (and Dataverse metadata) spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ColumnType {
    String,
    Memo,
    Integer,
    BigInt,
    Decimal,
    Double,
    Money,
    Boolean,
    DateTime,
    Lookup,
    Customer,
    Owner,
    PartyList,
    Picklist,
    MultiSelectPicklist,
    State,
    Status,
    Uniqueidentifier,
    EntityName,
    Image,
}

impl ColumnType {
    pub fn as_str(&self) -> &'static str {
        match self {
            ColumnType::String => "String",
            ColumnType::Memo => "Memo",
            ColumnType::Integer => "Integer",
            ColumnType::BigInt => "BigInt",
            ColumnType::Decimal => "Decimal",
            ColumnType::Double => "Double",
            ColumnType::Money => "Money",
            ColumnType::Boolean => "Boolean",
            ColumnType::DateTime => "DateTime",
            ColumnType::Lookup => "Lookup",
            ColumnType::Customer => "Customer",
            ColumnType::Owner => "Owner",
            ColumnType::PartyList => "PartyList",
            ColumnType::Picklist => "Picklist",
            ColumnType::MultiSelectPicklist => "MultiSelectPicklist",
            ColumnType::State => "State",
            ColumnType::Status => "Status",
            ColumnType::Uniqueidentifier => "Uniqueidentifier",
            ColumnType::EntityName => "EntityName",
            ColumnType::Image => "Image",
        }
    }
}

/// Dataverse's required level. Only ApplicationRequired and SystemRequired
/// bind: the platform fills most SystemRequired columns itself (SPEC §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RequiredLevel {
    None,
    Recommended,
    ApplicationRequired,
    SystemRequired,
}

impl RequiredLevel {
    pub fn as_str(&self) -> &'static str {
        match self {
            RequiredLevel::None => "None",
            RequiredLevel::Recommended => "Recommended",
            RequiredLevel::ApplicationRequired => "ApplicationRequired",
            RequiredLevel::SystemRequired => "SystemRequired",
        }
    }
}

/// Who may own a table's records; only user- and team-owned tables carry
/// `ownerid`, which decides whether owner mapping applies to a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ownership {
    UserOwned,
    OrganizationOwned,
    BusinessOwned,
    None,
}

impl Ownership {
    pub fn as_str(&self) -> &'static str {
        match self {
            Ownership::UserOwned => "UserOwned",
            Ownership::OrganizationOwned => "OrganizationOwned",
            Ownership::BusinessOwned => "BusinessOwned",
            Ownership::None => "None",
        }
    }
}

/// One value of a picklist, state or status column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionValue {
    pub value: i32,
    pub label: String,
    /// Status values only: the state the status belongs to, which is what
    /// makes a state/status pair valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<i32>,
    /// State values only: the status Dataverse sets when only the state is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_status: Option<i32>,
}

/// One column of a target table. `None` means the source did not say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<i64>,
    pub required_level: RequiredLevel,
    /// The tables a Lookup, Customer, Owner or PartyList column may point at.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<OptionValue>,
    /// Display format (`Email`, `Phone`, `Url`, `TextArea`, `DateOnly`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// DateTime behaviour: `UserLocal` (an instant, stored in UTC) or
    /// `DateOnly` (a calendar date, no time zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Decimal places (Decimal, Double, Money).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_for_create: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_for_update: Option<bool>,
    /// Made by the org's customiser (a migration's columns, or one created
    /// through the metadata API) rather than shipped by Microsoft.
    #[serde(skip)]
    pub custom: bool,
}

impl Column {
    /// Whether a create must carry a value (or the platform supplies one).
    pub fn is_required(&self) -> bool {
        matches!(
            self.required_level,
            RequiredLevel::ApplicationRequired | RequiredLevel::SystemRequired
        )
    }

    /// Whether the column references a record (and so is sent as an
    /// `@odata.bind`, not as a value).
    pub fn is_lookup(&self) -> bool {
        matches!(
            self.column_type,
            ColumnType::Lookup | ColumnType::Customer | ColumnType::Owner
        )
    }

    /// A DateTime that holds a calendar date rather than an instant.
    ///
    /// Decided by the behaviour, not the format: `overriddencreatedon` and
    /// `contract.activeon` are *formatted* DateOnly but behave UserLocal, so
    /// Dataverse stores a full UTC instant and a DATE would drop the time an
    /// activity happened.
    pub fn is_date_only(&self) -> bool {
        self.column_type == ColumnType::DateTime && self.behavior.as_deref() == Some("DateOnly")
    }

    /// The option with this value, if the column has one.
    pub fn option(&self, value: i32) -> Option<&OptionValue> {
        self.options.iter().find(|o| o.value == value)
    }
}

/// One target table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// The key the table has in `tables.json`; filled in after parsing so
    /// the file does not say it twice.
    #[serde(skip)]
    pub logical_name: String,
    pub entity_set_name: String,
    pub primary_id: String,
    pub primary_name: String,
    pub ownership: Ownership,
    pub columns: Vec<Column>,
    /// Alternate keys: what upserts and `@odata.bind` may address a record
    /// by instead of its GUID. None ship in `tables.json`; they come from a
    /// real org's metadata or are created at run time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<AlternateKey>,
    /// A table the org's customiser made (`{prefix}_equipment`, ...).
    #[serde(skip)]
    pub custom: bool,
}

/// An alternate key: the columns whose values together identify a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlternateKey {
    /// The key's logical name (its schema name in lower case).
    pub name: String,
    pub columns: Vec<String>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Adds a column unless the table already has one by that name, so a
    /// custom table may spell out a column the every-table list also adds.
    fn add_column(&mut self, column: Column) {
        if self.column(&column.name).is_none() {
            self.columns.push(column);
        }
    }
}

/// A many-to-many relationship (its intersect table has the relationship's
/// name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManyToMany {
    pub name: String,
    pub table1: String,
    pub table2: String,
}

/// `tables.json` as written, before the prefix is known. Its `source` line
/// (ferry's provenance note) is of no use to an org and is ignored.
#[derive(Debug, Deserialize)]
struct SchemaFile {
    tables: BTreeMap<String, Table>,
    custom: CustomFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomFile {
    /// Added to every table, standard and custom (`{prefix}_record_id`).
    every_table: Vec<Column>,
    /// Custom columns on standard tables, by table.
    columns: BTreeMap<String, Vec<Column>>,
    tables: BTreeMap<String, Table>,
    many_to_many: Vec<ManyToMany>,
}

/// Parsed once per process: every command asks for the schema, and the
/// embedded file is the same each time.
fn embedded() -> &'static SchemaFile {
    static FILE: OnceLock<SchemaFile> = OnceLock::new();
    FILE.get_or_init(|| {
        // The shared table contract: ferry plans against the same file.
        serde_json::from_str(include_str!("../../../src/dataverse/tables.json"))
            .expect("src/dataverse/tables.json is valid (the unit tests parse it)")
    })
}

fn with_prefix(text: &str, prefix: &str) -> String {
    text.replace(PREFIX_PLACEHOLDER, prefix)
}

fn custom_column(column: &Column, prefix: &str) -> Column {
    let mut column = column.clone();
    column.name = with_prefix(&column.name, prefix);
    column.targets = column
        .targets
        .iter()
        .map(|t| with_prefix(t, prefix))
        .collect();
    column.custom = true;
    column
}

/// The tables an org holds, by logical name, and its N:N relationships.
#[derive(Debug, Clone)]
pub struct Schema {
    tables: BTreeMap<String, Table>,
    many_to_many: Vec<ManyToMany>,
}

impl Schema {
    /// The shared table contract with `prefix` (the publisher prefix, e.g.
    /// `st`) in the custom names: the org as a migration leaves it.
    pub fn builtin(prefix: &str) -> Schema {
        let file = embedded();
        let mut tables = BTreeMap::new();
        for (name, table) in &file.tables {
            let mut table = table.clone();
            table.logical_name = name.clone();
            tables.insert(name.clone(), table);
        }
        for (name, template) in &file.custom.tables {
            let table = Table {
                logical_name: with_prefix(name, prefix),
                entity_set_name: with_prefix(&template.entity_set_name, prefix),
                primary_id: with_prefix(&template.primary_id, prefix),
                primary_name: with_prefix(&template.primary_name, prefix),
                ownership: template.ownership,
                columns: template
                    .columns
                    .iter()
                    .map(|c| custom_column(c, prefix))
                    .collect(),
                keys: Vec::new(),
                custom: true,
            };
            tables.insert(table.logical_name.clone(), table);
        }
        for (name, columns) in &file.custom.columns {
            let table = tables.get_mut(name).unwrap_or_else(|| {
                panic!("tables.json: custom columns for {name}, which is not a table")
            });
            for column in columns {
                table.add_column(custom_column(column, prefix));
            }
        }
        for table in tables.values_mut() {
            for column in &file.custom.every_table {
                table.add_column(custom_column(column, prefix));
            }
        }
        let many_to_many = file
            .custom
            .many_to_many
            .iter()
            .map(|r| ManyToMany {
                name: with_prefix(&r.name, prefix),
                table1: with_prefix(&r.table1, prefix),
                table2: with_prefix(&r.table2, prefix),
            })
            .collect();
        Schema {
            tables,
            many_to_many,
        }
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    pub fn column(&self, table: &str, column: &str) -> Option<&Column> {
        self.table(table)?.column(column)
    }

    /// Every table, by logical name.
    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.tables.values()
    }

    pub fn many_to_many(&self) -> &[ManyToMany] {
        &self.many_to_many
    }

    // --- Changes at run time -------------------------------------------
    //
    // The emulator's metadata endpoints (create table, create column,
    // InsertOptionValue, create key) and `--metadata FILE` change the schema
    // after it is built; these keep it consistent the way Dataverse refuses
    // duplicates and unknown names. Errors are plain text for the caller to
    // wrap in its own error type.

    /// The table whose Web API entity set is `set` (`accounts` → account).
    pub fn table_by_entity_set(&self, set: &str) -> Option<&Table> {
        self.tables.values().find(|t| t.entity_set_name == set)
    }

    /// What a fresh org has: the standard tables and columns, without
    /// anything customised (an org as Microsoft ships it).
    pub fn standard_only(&self) -> Schema {
        let tables = self
            .tables
            .iter()
            .filter(|(_, t)| !t.custom)
            .map(|(name, t)| {
                let mut t = t.clone();
                t.columns.retain(|c| !c.custom);
                (name.clone(), t)
            })
            .collect();
        Schema {
            tables,
            many_to_many: Vec::new(),
        }
    }

    /// Adds an N:N relationship between two existing tables.
    pub fn add_many_to_many(
        &mut self,
        name: &str,
        table1: &str,
        table2: &str,
    ) -> Result<(), String> {
        for table in [table1, table2] {
            if !self.tables.contains_key(table) {
                return Err(format!("there is no table {table} to relate"));
            }
        }
        if self.many_to_many.iter().any(|m| m.name == name) {
            return Err(format!("the relationship {name} already exists"));
        }
        self.many_to_many.push(ManyToMany {
            name: name.to_string(),
            table1: table1.to_string(),
            table2: table2.to_string(),
        });
        Ok(())
    }

    /// Adds a new table. Its logical name and its entity set must both be
    /// unused: the Web API addresses a table by either.
    pub fn add_table(&mut self, table: Table) -> Result<(), String> {
        if table.logical_name.is_empty() {
            return Err("a table needs a logical name".to_string());
        }
        if self.tables.contains_key(&table.logical_name) {
            return Err(format!(
                "a table named {} already exists",
                table.logical_name
            ));
        }
        if let Some(other) = self.table_by_entity_set(&table.entity_set_name) {
            return Err(format!(
                "entity set {} is already used by {}",
                table.entity_set_name, other.logical_name
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for column in &table.columns {
            if !seen.insert(column.name.as_str()) {
                return Err(format!(
                    "{} has two columns named {}",
                    table.logical_name, column.name
                ));
            }
        }
        self.tables.insert(table.logical_name.clone(), table);
        Ok(())
    }

    /// Adds a column to an existing table.
    pub fn add_column(&mut self, table: &str, column: Column) -> Result<(), String> {
        let t = self.table_mut(table)?;
        if t.column(&column.name).is_some() {
            return Err(format!(
                "{table} already has a column named {}",
                column.name
            ));
        }
        t.columns.push(column);
        Ok(())
    }

    /// Adds an option to a choice column and returns its value, as
    /// `InsertOptionValue` does. Without a value the next free one in the
    /// publisher's range is taken: Dataverse numbers new options from the
    /// publisher's option value prefix × 10,000 (ferry's publisher uses
    /// 10,000, hence 100,000,000 — SPEC §9), not after the highest
    /// Microsoft value.
    pub fn insert_option(
        &mut self,
        table: &str,
        column: &str,
        value: Option<i32>,
        label: &str,
    ) -> Result<i32, String> {
        if label.trim().is_empty() {
            return Err("an option needs a label".to_string());
        }
        let c = self
            .table_mut(table)?
            .columns
            .iter_mut()
            .find(|c| c.name == column)
            .ok_or_else(|| format!("{table} has no column named {column}"))?;
        // State and status values have their own messages (a status needs
        // its state), and booleans have exactly two options.
        if !matches!(
            c.column_type,
            ColumnType::Picklist | ColumnType::MultiSelectPicklist
        ) {
            return Err(format!(
                "{table}.{column} is a {} column, not a choice",
                c.column_type.as_str()
            ));
        }
        let value = match value {
            Some(v) => {
                if c.option(v).is_some() {
                    return Err(format!("{table}.{column} already has the value {v}"));
                }
                v
            }
            None => c
                .options
                .iter()
                .map(|o| o.value)
                .filter(|v| *v >= PUBLISHER_OPTION_VALUE_BASE)
                .max()
                .map_or(Ok(PUBLISHER_OPTION_VALUE_BASE), |v| {
                    v.checked_add(1)
                        .ok_or_else(|| format!("{table}.{column} has no free option value"))
                })?,
        };
        c.options.push(OptionValue {
            value,
            label: label.to_string(),
            state: None,
            default_status: None,
        });
        Ok(value)
    }

    /// Adds an alternate key. Dataverse accepts only some column types in
    /// a key and at most ten keys a table ("Work with alternate keys",
    /// learn.microsoft.com/power-apps/developer/data-platform/define-alternate-keys-entity),
    /// and a second key over the same columns would be the same index.
    pub fn add_key(&mut self, table: &str, name: &str, columns: Vec<String>) -> Result<(), String> {
        if name.is_empty() {
            return Err("a key needs a name".to_string());
        }
        if columns.is_empty() {
            return Err(format!("key {name} names no columns"));
        }
        let t = self.table_mut(table)?;
        if t.keys.iter().any(|k| k.name == name) {
            return Err(format!("{table} already has a key named {name}"));
        }
        if t.keys.len() >= MAX_KEYS_PER_TABLE {
            return Err(format!("{table} already has {MAX_KEYS_PER_TABLE} keys"));
        }
        for (i, column) in columns.iter().enumerate() {
            if columns[..i].contains(column) {
                return Err(format!("key {name} names {column} twice"));
            }
            let c = t
                .column(column)
                .ok_or_else(|| format!("{table} has no column named {column}"))?;
            if !matches!(
                c.column_type,
                ColumnType::String
                    | ColumnType::Integer
                    | ColumnType::Decimal
                    | ColumnType::DateTime
                    | ColumnType::Lookup
                    | ColumnType::Picklist
            ) {
                return Err(format!(
                    "{table}.{column} is a {} column, which cannot be part of a key",
                    c.column_type.as_str()
                ));
            }
        }
        let mut wanted: Vec<&String> = columns.iter().collect();
        wanted.sort();
        for key in &t.keys {
            let mut have: Vec<&String> = key.columns.iter().collect();
            have.sort();
            if have == wanted {
                return Err(format!(
                    "key {} of {table} already covers these columns",
                    key.name
                ));
            }
        }
        t.keys.push(AlternateKey {
            name: name.to_string(),
            columns,
        });
        Ok(())
    }

    /// Puts tables read from a real org's metadata in place of the built-in
    /// ones of the same name, and adds the others.
    ///
    /// The org is the authority on which columns exist and what they say,
    /// but a metadata pull usually asks for only some properties (the
    /// RetrieveMetadataChanges sample in shared/reference carries no
    /// MaxLength, validity or primary name at all), so a fact the org left
    /// out is taken from the built-in column of the same name and type
    /// rather than lost. The custom columns and keys the contract adds stay,
    /// whether or not the org has them yet, as they do in ferry's schema.
    pub fn replace_tables(&mut self, tables: Vec<Table>) {
        for mut table in tables {
            if let Some(known) = self.tables.get(&table.logical_name) {
                fill_gaps(&mut table, known);
            }
            // Dataverse's defaults for a table, should the pull not say.
            if table.entity_set_name.is_empty() {
                table.entity_set_name = format!("{}s", table.logical_name);
            }
            if table.primary_id.is_empty() {
                table.primary_id = format!("{}id", table.logical_name);
            }
            self.tables.insert(table.logical_name.clone(), table);
        }
    }

    fn table_mut(&mut self, table: &str) -> Result<&mut Table, String> {
        self.tables
            .get_mut(table)
            .ok_or_else(|| format!("there is no table named {table}"))
    }
}

/// The first option value a publisher's new options get (prefix 10,000 ×
/// 10,000), SPEC §9.
pub const PUBLISHER_OPTION_VALUE_BASE: i32 = 100_000_000;

/// Dataverse's limit on alternate keys per table.
const MAX_KEYS_PER_TABLE: usize = 10;

/// Completes a table read from an org with what the built-in one knows;
/// see [`Schema::replace_tables`].
fn fill_gaps(org: &mut Table, known: &Table) {
    for (mine, theirs) in [
        (&mut org.entity_set_name, &known.entity_set_name),
        (&mut org.primary_id, &known.primary_id),
        (&mut org.primary_name, &known.primary_name),
    ] {
        if mine.is_empty() {
            mine.clone_from(theirs);
        }
    }
    org.custom = known.custom;
    for column in &mut org.columns {
        let Some(k) = known.column(&column.name) else {
            continue;
        };
        column.custom = k.custom;
        if k.column_type != column.column_type {
            continue;
        }
        fill_none(&mut column.max_length, &k.max_length);
        fill_none(&mut column.format, &k.format);
        fill_none(&mut column.behavior, &k.behavior);
        fill_none(&mut column.min, &k.min);
        fill_none(&mut column.max, &k.max);
        fill_none(&mut column.precision, &k.precision);
        fill_none(&mut column.valid_for_create, &k.valid_for_create);
        fill_none(&mut column.valid_for_update, &k.valid_for_update);
        if column.targets.is_empty() {
            column.targets.clone_from(&k.targets);
        }
        if column.options.is_empty() {
            column.options.clone_from(&k.options);
        }
    }
    for k in known.columns.iter().filter(|c| c.custom) {
        if org.column(&k.name).is_none() {
            org.columns.push(k.clone());
        }
    }
    for key in &known.keys {
        if !org.keys.iter().any(|k| k.name == key.name) {
            org.keys.push(key.clone());
        }
    }
}

fn fill_none<T: Clone>(mine: &mut Option<T>, theirs: &Option<T>) {
    if mine.is_none() {
        mine.clone_from(theirs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STANDARD_TABLES: [&str; 20] = [
        "account",
        "contact",
        "customeraddress",
        "incident",
        "incidentresolution",
        "contract",
        "product",
        "uom",
        "uomschedule",
        "annotation",
        "phonecall",
        "email",
        "appointment",
        "activityparty",
        "systemuser",
        "msdyn_workorder",
        "msdyn_workorderproduct",
        "bookableresource",
        "bookableresourcebooking",
        "bookingstatus",
    ];

    fn schema() -> Schema {
        Schema::builtin("st")
    }

    fn col<'a>(s: &'a Schema, table: &str, column: &str) -> &'a Column {
        s.column(table, column)
            .unwrap_or_else(|| panic!("{table}.{column} is not in the schema"))
    }

    #[test]
    fn prefix_is_substituted_everywhere() {
        let s = Schema::builtin("zz");
        let record_id = col(&s, "account", "zz_record_id");
        assert!(record_id.custom);
        assert_eq!(record_id.max_length, Some(100));
        assert!(col(&s, "account", "zz_invoicemethod").custom);
        let part = s.table("zz_workorderpart").expect("custom table");
        assert!(part.custom);
        assert_eq!(part.primary_id, "zz_workorderpartid");
        assert_eq!(part.primary_name, "zz_name");
        assert_eq!(
            col(&s, "zz_workorderpart", "zz_incidentid").targets,
            ["incident"]
        );
        assert_eq!(col(&s, "zz_equipment", "zz_accountid").targets, ["account"]);
        assert_eq!(s.many_to_many()[0].name, "zz_equipment_customeraddress");
        assert_eq!(s.many_to_many()[0].table1, "zz_equipment");
        let leftovers: Vec<String> = s
            .tables()
            .flat_map(|t| t.columns.iter().map(move |c| (t, c)))
            .filter(|(t, c)| {
                let text = format!("{} {} {:?}", t.logical_name, c.name, c.targets);
                text.contains(PREFIX_PLACEHOLDER)
            })
            .map(|(t, c)| format!("{}.{}", t.logical_name, c.name))
            .collect();
        assert!(leftovers.is_empty(), "unsubstituted: {leftovers:?}");
        assert!(!col(&s, "account", "name").custom);
    }

    #[test]
    fn every_table_has_the_record_id_column() {
        let s = schema();
        assert_eq!(s.tables().count(), STANDARD_TABLES.len() + 2);
        for t in STANDARD_TABLES {
            assert!(s.table(t).is_some(), "{t} missing");
        }
        for t in s.tables() {
            let c = t
                .column("st_record_id")
                .unwrap_or_else(|| panic!("{} has no st_record_id", t.logical_name));
            assert_eq!(c.column_type, ColumnType::String);
            assert_eq!(c.max_length, Some(100));
        }
    }

    fn text_column(name: &str) -> Column {
        Column {
            name: name.to_string(),
            column_type: ColumnType::String,
            max_length: Some(100),
            required_level: RequiredLevel::None,
            targets: Vec::new(),
            options: Vec::new(),
            format: Some("Text".to_string()),
            behavior: None,
            min: None,
            max: None,
            precision: None,
            valid_for_create: Some(true),
            valid_for_update: Some(true),
            custom: true,
        }
    }

    fn bare_table(name: &str, set: &str) -> Table {
        Table {
            logical_name: name.to_string(),
            entity_set_name: set.to_string(),
            primary_id: format!("{name}id"),
            primary_name: "st_name".to_string(),
            ownership: Ownership::UserOwned,
            columns: vec![text_column("st_name")],
            keys: Vec::new(),
            custom: true,
        }
    }

    #[test]
    fn tables_are_found_by_entity_set() {
        let s = schema();
        assert_eq!(
            s.table_by_entity_set("incidents")
                .map(|t| t.logical_name.as_str()),
            Some("incident")
        );
        assert_eq!(
            s.table_by_entity_set("st_equipments")
                .map(|t| t.logical_name.as_str()),
            Some("st_equipment")
        );
        assert!(s.table_by_entity_set("incident").is_none());
    }

    #[test]
    fn add_table_refuses_taken_names_and_sets() {
        let mut s = schema();
        s.add_table(bare_table("st_site", "st_sites")).unwrap();
        assert_eq!(
            s.table_by_entity_set("st_sites").unwrap().primary_id,
            "st_siteid"
        );
        assert!(s.add_table(bare_table("st_site", "st_others")).is_err());
        assert!(s.add_table(bare_table("st_other", "accounts")).is_err());
        let mut twice = bare_table("st_twice", "st_twices");
        twice.columns.push(text_column("st_name"));
        assert!(s.add_table(twice).is_err());
    }

    #[test]
    fn add_column_refuses_duplicates_and_unknown_tables() {
        let mut s = schema();
        s.add_column("incident", text_column("st_extra")).unwrap();
        assert!(s.column("incident", "st_extra").is_some());
        assert!(s.add_column("incident", text_column("st_extra")).is_err());
        assert!(s.add_column("incident", text_column("title")).is_err());
        assert!(s
            .add_column("nosuchtable", text_column("st_extra"))
            .is_err());
    }

    #[test]
    fn insert_option_takes_the_next_publisher_value() {
        let mut s = schema();
        let critical = s
            .insert_option("incident", "prioritycode", None, "Critical")
            .unwrap();
        assert_eq!(critical, 100_000_000);
        let next = s
            .insert_option("incident", "prioritycode", None, "Urgent")
            .unwrap();
        assert_eq!(next, 100_000_001);
        assert_eq!(
            s.insert_option("incident", "prioritycode", Some(100_000_010), "Later"),
            Ok(100_000_010)
        );
        assert_eq!(
            s.insert_option("incident", "prioritycode", None, "After"),
            Ok(100_000_011)
        );
        let priority = col(&s, "incident", "prioritycode");
        assert_eq!(priority.option(100_000_000).unwrap().label, "Critical");
        assert_eq!(priority.options.len(), 7);
        // Taken values, non-choice columns, unknown names and empty labels.
        assert!(s
            .insert_option("incident", "prioritycode", Some(2), "Dup")
            .is_err());
        assert!(s
            .insert_option("incident", "statuscode", None, "New")
            .is_err());
        assert!(s.insert_option("incident", "title", None, "New").is_err());
        assert!(s.insert_option("incident", "nosuch", None, "New").is_err());
        assert!(s
            .insert_option("nosuch", "prioritycode", None, "New")
            .is_err());
        assert!(s
            .insert_option("incident", "prioritycode", None, " ")
            .is_err());
    }

    #[test]
    fn add_key_checks_columns_and_duplicates() {
        let mut s = schema();
        s.add_key("account", "st_email", vec!["emailaddress1".into()])
            .unwrap();
        let keys = &s.table("account").unwrap().keys;
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].columns, ["emailaddress1"]);
        // Same name, same columns, unknown column, unkeyable type, unknown table.
        assert!(s
            .add_key("account", "st_email", vec!["name".into()])
            .is_err());
        assert!(s
            .add_key("account", "st_other", vec!["emailaddress1".into()])
            .is_err());
        assert!(s.add_key("account", "st_x", vec!["nosuch".into()]).is_err());
        assert!(s
            .add_key("account", "st_x", vec!["address1_latitude".into()])
            .is_err());
        assert!(s.add_key("account", "st_x", vec![]).is_err());
        assert!(s
            .add_key("account", "st_x", vec!["name".into(), "name".into()])
            .is_err());
        assert!(s.add_key("nosuch", "st_x", vec!["name".into()]).is_err());
        s.add_key(
            "account",
            "st_nameandemail",
            vec!["name".into(), "emailaddress1".into()],
        )
        .unwrap();
    }

    #[test]
    fn keys_are_optional_in_json() {
        let table: Table = serde_json::from_value(serde_json::json!({
            "entity_set_name": "st_sites", "primary_id": "st_siteid",
            "primary_name": "st_name", "ownership": "UserOwned", "columns": []
        }))
        .unwrap();
        assert!(table.keys.is_empty());
        let text = serde_json::to_string(&table).unwrap();
        assert!(!text.contains("keys"));
    }

    #[test]
    fn org_tables_replace_built_in_ones_and_keep_the_plan() {
        let mut s = schema();
        let mut name = text_column("name");
        name.max_length = None; // the pull did not ask for it
        name.format = None;
        name.valid_for_create = None;
        name.custom = false;
        let mut fax = text_column("fax");
        fax.max_length = Some(42);
        fax.custom = false;
        let org_account = Table {
            logical_name: "account".to_string(),
            entity_set_name: "accounts".to_string(),
            primary_id: "accountid".to_string(),
            primary_name: String::new(),
            ownership: Ownership::UserOwned,
            columns: vec![name, fax],
            keys: vec![AlternateKey {
                name: "orgkey".to_string(),
                columns: vec!["name".to_string()],
            }],
            custom: false,
        };
        let mut extra = bare_table("new_thing", "");
        extra.custom = false;
        s.replace_tables(vec![org_account, extra]);
        let account = s.table("account").unwrap();
        assert_eq!(account.primary_name, "name");
        let name = account.column("name").unwrap();
        assert_eq!(name.max_length, Some(160));
        assert_eq!(name.format.as_deref(), Some("Text"));
        assert_eq!(name.valid_for_create, Some(true));
        assert_eq!(account.column("fax").unwrap().max_length, Some(42));
        // Built-in Microsoft columns the org did not send are gone; ferry's
        // planned columns stay.
        assert!(account.column("telephone1").is_none());
        assert!(account.column("st_record_id").unwrap().custom);
        assert_eq!(account.keys.len(), 1);
        let thing = s.table("new_thing").unwrap();
        assert_eq!(thing.entity_set_name, "new_things");
        assert!(s.table("incident").is_some());
    }
}
