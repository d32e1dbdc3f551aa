//! ferry's description of the Dataverse target tables (SPEC §9, §10).
//!
//! The facts come from Microsoft's entity reference pages through the shared
//! reference schema, but ferry keeps its own compact copy in `tables.json`
//! rather than the reference itself: only the columns a migration writes or
//! the platform requires, one line each, no provenance. It is embedded so a
//! ferry binary needs nothing beside it, and the drift test below holds every
//! embedded column to the reference so the copy cannot quietly go stale.
//!
//! The custom columns and tables ferry plans are written with a `{prefix}`
//! placeholder because the publisher prefix is a workspace setting;
//! [`Schema::builtin`] substitutes it and merges them into the tables, so
//! callers see one schema whether a column is Microsoft's or ferry's.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// Where the publisher prefix goes in the custom part of `tables.json`.
const PREFIX_PLACEHOLDER: &str = "{prefix}";

/// Dataverse decimals hold at most 100,000,000,000 (12 integer digits) with
/// 0–10 decimal places, so the DuckDB type follows from the precision alone.
const DECIMAL_BY_PRECISION: [&str; 11] = [
    "DECIMAL(12,0)",
    "DECIMAL(13,1)",
    "DECIMAL(14,2)",
    "DECIMAL(15,3)",
    "DECIMAL(16,4)",
    "DECIMAL(17,5)",
    "DECIMAL(18,6)",
    "DECIMAL(19,7)",
    "DECIMAL(20,8)",
    "DECIMAL(21,9)",
    "DECIMAL(22,10)",
];

/// Wide enough for any Dataverse decimal when the precision is not known.
const DECIMAL_FALLBACK: &str = "DECIMAL(23,10)";

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
    /// Planned by ferry rather than shipped by Microsoft: it has to be created
    /// in the target before anything is loaded into it.
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

    /// The DuckDB type a `stg.*` column of this kind has (sql/README.md).
    pub fn duckdb_type(&self) -> &'static str {
        match self.column_type {
            ColumnType::String | ColumnType::Memo | ColumnType::EntityName => "VARCHAR",
            ColumnType::Integer | ColumnType::Picklist | ColumnType::State | ColumnType::Status => {
                "INTEGER"
            }
            ColumnType::BigInt => "BIGINT",
            // 922,337,203,685,477 is Dataverse's largest money value: 15
            // integer digits, and money never has more than 4 decimals.
            ColumnType::Money => "DECIMAL(19,4)",
            ColumnType::Decimal => self
                .precision
                .and_then(|p| DECIMAL_BY_PRECISION.get(p as usize).copied())
                .unwrap_or(DECIMAL_FALLBACK),
            ColumnType::Double => "DOUBLE",
            ColumnType::Boolean => "BOOLEAN",
            ColumnType::DateTime => {
                if self.is_date_only() {
                    "DATE"
                } else {
                    "TIMESTAMP WITH TIME ZONE"
                }
            }
            ColumnType::Lookup
            | ColumnType::Customer
            | ColumnType::Owner
            | ColumnType::Uniqueidentifier => "UUID",
            // Parties are activityparty rows, never a cell; text is the
            // least surprising place-holder if one is ever staged.
            ColumnType::PartyList => "VARCHAR",
            ColumnType::MultiSelectPicklist => "INTEGER[]",
            ColumnType::Image => "BLOB",
        }
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
    /// A table ferry creates (`{prefix}_equipment`, ...).
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

/// A many-to-many relationship ferry creates (its intersect table has the
/// relationship's name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManyToMany {
    pub name: String,
    pub table1: String,
    pub table2: String,
}

/// One row of `map.target_columns`: flat and typed for DuckDB, so SQL
/// transforms and checks can join against the target schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetColumn {
    pub table_name: String,
    pub column_name: String,
    pub type_name: String,
    pub max_length: Option<i64>,
    pub required_level: String,
    /// Comma-joined lookup targets, `None` when the column is not a lookup.
    pub targets: Option<String>,
    pub custom: bool,
}

/// `tables.json` as written, before the prefix is known.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaFile {
    source: String,
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
        serde_json::from_str(include_str!("tables.json"))
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

/// The target tables ferry migrates into, with ferry's custom columns and
/// tables merged in.
#[derive(Debug, Clone)]
pub struct Schema {
    prefix: String,
    source: String,
    tables: BTreeMap<String, Table>,
    many_to_many: Vec<ManyToMany>,
}

impl Schema {
    /// The embedded schema with `prefix` (the publisher prefix of
    /// `ferry.toml`, validated there) in the custom names.
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
            prefix: prefix.to_string(),
            source: file.source.clone(),
            tables,
            many_to_many,
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Where the facts come from, for reports and `map.target_columns` readers.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Says where the facts now come from, e.g. after
    /// [`replace_tables`](Self::replace_tables) merged in a target's metadata.
    pub fn set_source(&mut self, source: impl Into<String>) {
        self.source = source.into();
    }

    /// The traceability column every table carries (`st_record_id`).
    pub fn record_id_column(&self) -> String {
        format!("{}_record_id", self.prefix)
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

    /// The rows ferry loads into `map.target_columns`, tables by name and
    /// columns in file order.
    pub fn column_rows(&self) -> Vec<TargetColumn> {
        self.tables()
            .flat_map(|table| {
                table.columns.iter().map(move |c| TargetColumn {
                    table_name: table.logical_name.clone(),
                    column_name: c.name.clone(),
                    type_name: c.column_type.as_str().to_string(),
                    max_length: c.max_length,
                    required_level: c.required_level.as_str().to_string(),
                    targets: (!c.targets.is_empty()).then(|| c.targets.join(",")),
                    custom: c.custom,
                })
            })
            .collect()
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
    /// anything ferry plans to create. `ferry plan` compares against this
    /// when no target is configured.
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
            prefix: self.prefix.clone(),
            source: self.source.clone(),
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

    /// A schema holding exactly `tables` and `many_to_many` (read from a
    /// live org).
    pub fn from_tables(
        prefix: &str,
        source: &str,
        tables: Vec<Table>,
        many_to_many: Vec<ManyToMany>,
    ) -> Schema {
        Schema {
            prefix: prefix.to_string(),
            source: source.to_string(),
            tables: tables
                .into_iter()
                .map(|t| (t.logical_name.clone(), t))
                .collect(),
            many_to_many,
        }
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
    /// rather than lost. The columns and keys ferry plans to create stay:
    /// they are the plan, whether or not the org has them yet.
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
    use serde_json::Value;

    const REFERENCE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/reference/dataverse/dataverse-tables.json"
    );

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
    fn incident_priority_and_title() {
        let s = schema();
        let priority = col(&s, "incident", "prioritycode");
        let values: Vec<(i32, &str)> = priority
            .options
            .iter()
            .map(|o| (o.value, o.label.as_str()))
            .collect();
        assert_eq!(values, [(1, "High"), (2, "Normal"), (3, "Low")]);
        let title = col(&s, "incident", "title");
        assert_eq!(title.column_type, ColumnType::String);
        assert_eq!(title.max_length, Some(200));
        assert_eq!(title.required_level, RequiredLevel::ApplicationRequired);
    }

    #[test]
    fn account_name_is_160() {
        let s = schema();
        let name = col(&s, "account", "name");
        assert_eq!(name.max_length, Some(160));
        assert_eq!(name.required_level, RequiredLevel::ApplicationRequired);
        assert_eq!(s.table("account").unwrap().primary_name, "name");
    }

    #[test]
    fn incident_status_belongs_to_its_state() {
        let s = schema();
        let status = col(&s, "incident", "statuscode");
        assert_eq!(status.option(5).and_then(|o| o.state), Some(1));
        assert_eq!(status.option(1000).and_then(|o| o.state), Some(1));
        assert_eq!(status.option(6).and_then(|o| o.state), Some(2));
        assert_eq!(status.option(2000).and_then(|o| o.state), Some(2));
        let state = col(&s, "incident", "statecode");
        assert_eq!(state.option(1).and_then(|o| o.default_status), Some(5));
        assert_eq!(state.valid_for_create, Some(false));
    }

    #[test]
    fn customeraddress_state_and_postal_code_are_text() {
        let s = schema();
        for name in ["stateorprovince", "postalcode"] {
            let c = col(&s, "customeraddress", name);
            assert_eq!(c.column_type, ColumnType::String, "{name}");
            assert_eq!(c.duckdb_type(), "VARCHAR", "{name}");
        }
    }

    #[test]
    fn prefix_is_substituted_everywhere() {
        let s = Schema::builtin("zz");
        let record_id = col(&s, "account", "zz_record_id");
        assert!(record_id.custom);
        assert_eq!(record_id.max_length, Some(100));
        assert_eq!(s.record_id_column(), "zz_record_id");
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
            .column_rows()
            .into_iter()
            .filter(|r| {
                let text = format!("{} {} {:?}", r.table_name, r.column_name, r.targets);
                text.contains(PREFIX_PLACEHOLDER)
            })
            .map(|r| format!("{}.{}", r.table_name, r.column_name))
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

    #[test]
    fn tables_are_consistent() {
        let s = schema();
        for t in s.tables() {
            let here = &t.logical_name;
            assert!(t.column(&t.primary_id).is_some(), "{here}: primary id");
            assert!(t.column(&t.primary_name).is_some(), "{here}: primary name");
            let mut names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "{here}: duplicate columns");
            // activityparty and customeraddress carry ownerid without being
            // user-owned, so the check runs one way only.
            if t.ownership == Ownership::UserOwned {
                assert!(t.column("ownerid").is_some(), "{here}: ownerid");
            }
            for c in &t.columns {
                if c.is_lookup() {
                    assert!(!c.targets.is_empty(), "{here}.{}: no targets", c.name);
                }
                if c.column_type == ColumnType::Status {
                    let state = t.column("statecode").expect("status without state");
                    for o in &c.options {
                        let st = o.state.expect("status option without state");
                        assert!(state.option(st).is_some(), "{here}.{}: {}", c.name, o.value);
                    }
                }
            }
        }
    }

    #[test]
    fn columns_a_migration_touches_are_there() {
        let s = schema();
        let touched: &[(&str, &[&str])] = &[
            (
                "account",
                &[
                    "address1_line1",
                    "address1_postalcode",
                    "address2_city",
                    "primarycontactid",
                    "websiteurl",
                    "overriddencreatedon",
                    "owneridtype",
                ],
            ),
            (
                "contact",
                &[
                    "address1_line1",
                    "parentcustomerid",
                    "mobilephone",
                    "jobtitle",
                ],
            ),
            (
                "customeraddress",
                &[
                    "addressnumber",
                    "addresstypecode",
                    "parentid",
                    "objecttypecode",
                    "latitude",
                    "longitude",
                    "line3",
                ],
            ),
            (
                "incident",
                &[
                    "customerid",
                    "contractid",
                    "caseorigincode",
                    "casetypecode",
                    "ticketnumber",
                ],
            ),
            (
                "incidentresolution",
                &["incidentid", "actualend", "timespent"],
            ),
            (
                "contract",
                &[
                    "billingfrequencycode",
                    "contracttemplateid",
                    "transactioncurrencyid",
                    "activeon",
                    "expireson",
                ],
            ),
            (
                "product",
                &[
                    "productnumber",
                    "price",
                    "quantityonhand",
                    "quantitydecimal",
                    "producttypecode",
                    "defaultuomid",
                    "defaultuomscheduleid",
                ],
            ),
            ("uom", &["baseuom", "quantity", "uomscheduleid"]),
            (
                "annotation",
                &[
                    "documentbody",
                    "filename",
                    "mimetype",
                    "isdocument",
                    "filesize",
                    "objectid",
                    "objecttypecode",
                ],
            ),
            (
                "phonecall",
                &[
                    "directioncode",
                    "actualdurationminutes",
                    "regardingobjectid",
                    "overriddencreatedon",
                ],
            ),
            (
                "email",
                &["directioncode", "scheduledend", "regardingobjectid"],
            ),
            (
                "appointment",
                &["scheduledstart", "scheduledend", "regardingobjectid"],
            ),
            (
                "activityparty",
                &[
                    "activityid",
                    "partyid",
                    "participationtypemask",
                    "addressused",
                ],
            ),
            (
                "systemuser",
                &[
                    "internalemailaddress",
                    "isdisabled",
                    "domainname",
                    "fullname",
                ],
            ),
            (
                "msdyn_workorder",
                &[
                    "msdyn_serviceaccount",
                    "msdyn_billingaccount",
                    "msdyn_systemstatus",
                    "msdyn_workordersummary",
                    "msdyn_instructions",
                    "msdyn_reportedbycontact",
                    "msdyn_timeclosed",
                    "msdyn_primaryincidentdescription",
                ],
            ),
            (
                "msdyn_workorderproduct",
                &[
                    "msdyn_description",
                    "msdyn_workorder",
                    "msdyn_product",
                    "msdyn_quantity",
                ],
            ),
            ("bookableresource", &["resourcetype", "userid", "timezone"]),
            (
                "bookableresourcebooking",
                &[
                    "starttime",
                    "endtime",
                    "duration",
                    "resource",
                    "bookingstatus",
                    "bookingtype",
                    "msdyn_workorder",
                ],
            ),
            ("bookingstatus", &["name", "status"]),
        ];
        for (table, columns) in touched {
            for c in *columns {
                col(&s, table, c);
            }
        }
        let systemstatus = col(&s, "msdyn_workorder", "msdyn_systemstatus");
        let first = systemstatus.options.first().map(|o| o.value);
        assert_eq!(first, Some(690_970_000));
        assert_eq!(systemstatus.options.len(), 6);
    }

    #[test]
    fn duckdb_types() {
        let s = schema();
        let ty = |t: &str, c: &str| col(&s, t, c).duckdb_type();
        assert_eq!(ty("incident", "prioritycode"), "INTEGER");
        assert_eq!(ty("incident", "customerid"), "UUID");
        assert_eq!(ty("incident", "incidentid"), "UUID");
        assert_eq!(ty("incident", "owneridtype"), "VARCHAR");
        assert_eq!(ty("product", "price"), "DECIMAL(19,4)");
        assert_eq!(ty("uom", "quantity"), "DECIMAL(17,5)");
        assert_eq!(ty("st_workorderpart", "st_quantity"), "DECIMAL(16,4)");
        assert_eq!(ty("customeraddress", "latitude"), "DOUBLE");
        assert_eq!(ty("annotation", "isdocument"), "BOOLEAN");
        assert_eq!(ty("annotation", "documentbody"), "VARCHAR");
        // Formatted DateOnly but behaving UserLocal: still an instant.
        assert_eq!(
            ty("phonecall", "overriddencreatedon"),
            "TIMESTAMP WITH TIME ZONE"
        );
        assert_eq!(ty("contract", "activeon"), "TIMESTAMP WITH TIME ZONE");
        assert_eq!(ty("st_equipment", "st_installdate"), "DATE");
        assert_eq!(
            ty("incident", "st_scheduledstart"),
            "TIMESTAMP WITH TIME ZONE"
        );
        let unknown = Column {
            precision: None,
            ..col(&s, "uom", "quantity").clone()
        };
        assert_eq!(unknown.duckdb_type(), DECIMAL_FALLBACK);
    }

    #[test]
    fn column_rows_flatten_the_schema() {
        let s = schema();
        let rows = s.column_rows();
        let total: usize = s.tables().map(|t| t.columns.len()).sum();
        assert_eq!(rows.len(), total);
        let customer = rows
            .iter()
            .find(|r| r.table_name == "incident" && r.column_name == "customerid")
            .unwrap();
        assert_eq!(customer.type_name, "Customer");
        assert_eq!(customer.targets.as_deref(), Some("account,contact"));
        assert_eq!(customer.required_level, "SystemRequired");
        assert!(!customer.custom);
        let notes = rows
            .iter()
            .find(|r| r.table_name == "customeraddress" && r.column_name == "st_accessnotes")
            .unwrap();
        assert_eq!(notes.type_name, "Memo");
        assert_eq!(notes.max_length, Some(2000));
        assert_eq!(notes.targets, None);
        assert!(notes.custom);
        assert!(rows
            .iter()
            .filter(|r| r.table_name == "st_equipment")
            .all(|r| r.custom));
    }

    /// Every embedded standard column must say what the reference says, and
    /// every column the reference marks required must be embedded: the file
    /// was generated once, so this is what keeps it honest.
    #[test]
    fn embedded_columns_match_the_reference_schema() {
        let text = std::fs::read_to_string(REFERENCE)
            .unwrap_or_else(|e| panic!("reading {REFERENCE}: {e}"));
        let reference: Value = serde_json::from_str(&text).expect("reference is JSON");
        let s = schema();
        let mut compared = 0;
        for table in s.tables().filter(|t| !t.custom) {
            let name = &table.logical_name;
            let rt = &reference[name.as_str()];
            assert!(rt.is_object(), "{name} is not in the reference");
            assert_eq!(
                rt["entity_set_name"].as_str(),
                Some(table.entity_set_name.as_str()),
                "{name}"
            );
            assert_eq!(
                rt["primary_id_attribute"].as_str(),
                Some(table.primary_id.as_str()),
                "{name}"
            );
            assert_eq!(
                rt["primary_name_attribute"].as_str(),
                Some(table.primary_name.as_str()),
                "{name}"
            );
            assert_eq!(
                rt["ownership"].as_str(),
                Some(table.ownership.as_str()),
                "{name}"
            );
            let attributes = rt["attributes"].as_array().expect("attributes");
            for c in table.columns.iter().filter(|c| !c.custom) {
                let here = format!("{name}.{}", c.name);
                let a = attributes
                    .iter()
                    .find(|a| a["logical_name"].as_str() == Some(c.name.as_str()))
                    .unwrap_or_else(|| panic!("{here} is not in the reference"));
                assert_eq!(
                    a["type"].as_str(),
                    Some(c.column_type.as_str()),
                    "{here} type"
                );
                assert_eq!(a["max_length"].as_i64(), c.max_length, "{here} max_length");
                assert_eq!(
                    a["required_level"].as_str(),
                    Some(c.required_level.as_str()),
                    "{here} required_level"
                );
                // The rest of what the file carries drifts the same way.
                let targets: Vec<&str> = a["targets"]
                    .as_array()
                    .map(|v| v.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                assert_eq!(c.targets, targets, "{here} targets");
                let defaults: BTreeMap<i64, i64> = a["default_status_by_state"]
                    .as_array()
                    .map(|v| {
                        v.iter()
                            .filter_map(|d| {
                                Some((d["state"].as_i64()?, d["default_status"].as_i64()?))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let theirs: Vec<(i64, String, Option<i64>, Option<i64>)> = a["options"]
                    .as_array()
                    .map(|v| {
                        v.iter()
                            .map(|o| {
                                let value = o["value"].as_i64().expect("option value");
                                let default = if c.column_type == ColumnType::State {
                                    defaults.get(&value).copied()
                                } else {
                                    None
                                };
                                let label = o["label"].as_str().unwrap_or_default().to_string();
                                (value, label, o["state"].as_i64(), default)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let ours: Vec<(i64, String, Option<i64>, Option<i64>)> = c
                    .options
                    .iter()
                    .map(|o| {
                        (
                            i64::from(o.value),
                            o.label.clone(),
                            o.state.map(i64::from),
                            o.default_status.map(i64::from),
                        )
                    })
                    .collect();
                assert_eq!(ours, theirs, "{here} options");
                // "None" is how the reference spells "no format".
                let format = a["format"].as_str().filter(|f| *f != "None");
                assert_eq!(c.format.as_deref(), format, "{here} format");
                assert_eq!(
                    c.behavior.as_deref(),
                    a["datetime_behavior"].as_str(),
                    "{here} behavior"
                );
                assert_eq!(c.min, a["min_value"].as_f64(), "{here} min");
                assert_eq!(c.max, a["max_value"].as_f64(), "{here} max");
                assert_eq!(
                    c.precision.map(u64::from),
                    a["precision"].as_u64(),
                    "{here} precision"
                );
                assert_eq!(
                    c.valid_for_create,
                    a["valid_for_create"].as_bool(),
                    "{here} valid_for_create"
                );
                assert_eq!(
                    c.valid_for_update,
                    a["valid_for_update"].as_bool(),
                    "{here} valid_for_update"
                );
                compared += 1;
            }
            for a in attributes {
                let level = a["required_level"].as_str().unwrap_or_default();
                if level == "ApplicationRequired" || level == "SystemRequired" {
                    let column = a["logical_name"].as_str().unwrap_or_default();
                    assert!(
                        table.column(column).is_some(),
                        "{name}.{column} is required but not embedded"
                    );
                }
            }
        }
        assert!(compared > 400, "only {compared} columns compared");
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
