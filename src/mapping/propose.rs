//! `ferry map propose`: the deterministic mapping proposer (SPEC §5).
//!
//! ServiceTracker's custom fields are documented nowhere and differ in every
//! instance, so before any record moves ferry proposes the map and a person
//! confirms it. The proposer compares the source inventory that `ferry
//! stage` built (`meta.inventory_*`: fields, inferred types, sample values,
//! picklist values) with the target schema and says, for every source field,
//! which target column it lands in — or which custom column it needs — and,
//! for every picklist value, which integer option it becomes. Each answer
//! carries a confidence (0–1) and a one-line reason, so the analyst reads
//! the doubtful ones first.
//!
//! Why deterministic rules rather than a model: the same inventory must give
//! the same proposal on every run and every machine, an analyst must be able
//! to see *why* a field was placed where it was, and nothing may leave the
//! machine. The rules, in the order they decide:
//!
//! 1. What the built-in transforms already do is decided, not guessed: such
//!    fields are confirmed at 1.0 with the file that maps them
//!    ([`synonyms::BUILTIN`]). Translations already in
//!    `mapping/optionsets.csv` are kept exactly as they are.
//! 2. Other fields are scored against every writable column of the object's
//!    target table: name (equal after normalising, a synonym, or close by
//!    edit distance; `billing_`/`shipping_` pick address 1 or 2) × type
//!    compatibility × value profile (e-mail, phone, URL patterns in the
//!    samples against the column's format) × length (the longest value
//!    against the column's maximum). The best pairs above
//!    [`STANDARD_THRESHOLD`] win, one field per column.
//! 3. Anything left becomes a custom column `<prefix>_<name>` whose type
//!    follows the data: text with headroom over the longest value (Memo
//!    beyond 4,000 characters or for multi-line text), a choice for a short
//!    list of labels, whole numbers, decimals with the source's scale,
//!    date-only dates, two-option booleans.
//! 4. Picklist values are matched to the target column's options by label:
//!    equal labels, then known synonyms ([`synonyms::OPTION_SYNONYMS`]),
//!    then edit distance. An undocumented value (`Waiting Parts`, `Urgent`)
//!    is never settled by a guess: it is reported as needing a decision,
//!    with the nearest option as a suggestion. A documented value that names
//!    a tier the target lacks (`Critical`) gets a new option in the
//!    publisher's range (100000000 upward, after any value already used).
//!
//! The outputs are for review, never silent changes: new translations are
//! appended to `mapping/optionsets.csv` under comments that say they are
//! proposals (undecided ones commented out), custom columns get new
//! versioned transform files an analyst edits (never overwritten), and the
//! whole proposal renders to a self-contained HTML page.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use duckdb::Connection;
use serde::Serialize;

use super::synonyms::{self, BuiltinMapping, Placement};
use crate::dataverse::schema::{
    Column, ColumnType, RequiredLevel, Schema, PUBLISHER_OPTION_VALUE_BASE,
};
use crate::error::{Error, IoContext, Result};
use crate::stage::db::{constant_literal, qualified, quote_ident};
use crate::transform::mapping_files::OptionTranslation;
use crate::workspace::Profile;

/// A standard column is proposed only at or above this score; below it the
/// field gets a custom column. Chosen so a synonym with a compatible type
/// passes and a mere resemblance of names does not.
pub const STANDARD_THRESHOLD: f64 = 0.55;

/// Below this confidence an option translation needs a person's decision.
pub const DECISION_THRESHOLD: f64 = 0.75;

/// The longest single-line text column ferry proposes; longer text is Memo.
pub const MAX_STRING_LENGTH: i64 = 4000;

/// A custom text field is proposed as a choice column only with at most this
/// many distinct values of at most [`CUSTOM_CHOICE_MAX_LABEL`] characters:
/// beyond that it is free text that happens to repeat.
pub const CUSTOM_CHOICE_MAX_VALUES: i64 = 30;
pub const CUSTOM_CHOICE_MAX_LABEL: i64 = 50;

/// Column names ferry proposes stay well inside Dataverse's limit on
/// schema names, leaving room for a numeric suffix on a clash.
const MAX_CUSTOM_NAME: usize = 40;

/// The column whose value picks the activity table (SPEC §10).
const ACTIVITY_TYPE_COLUMN: &str = "activitytypecode";

/// The template the proposal renders with (`templates/`).
pub const TEMPLATE_NAME: &str = "mapping-proposal.html.j2";

// ---------------------------------------------------------------------------
// The proposal
// ---------------------------------------------------------------------------

/// How settled an answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Decided by a built-in transform or a line of `mapping/optionsets.csv`.
    Confirmed,
    /// ferry's proposal for a standard column or option.
    Proposed,
    /// No standard column fits: a custom column is proposed.
    Custom,
    /// ferry will not guess: a person must choose.
    NeedsDecision,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Confirmed => "confirmed",
            Status::Proposed => "proposed",
            Status::Custom => "custom",
            Status::NeedsDecision => "needs_decision",
        }
    }
}

/// A column ferry proposes to create in the target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomColumn {
    /// `<prefix>_<name>`.
    pub name: String,
    /// Dataverse's type name: String, Memo, Integer, BigInt, Decimal, Money,
    /// Double, DateTime, Boolean or Picklist.
    pub type_name: String,
    /// Characters, for String and Memo.
    pub max_length: Option<i64>,
    /// Decimal places, for Decimal, Money and Double.
    pub precision: Option<u32>,
    /// Display format (`Email`, `Phone`, `Url`, `TextArea`, `DateOnly`, ...).
    pub format: Option<String>,
    /// DateTime behaviour: `DateOnly` for calendar dates, `UserLocal` for
    /// instants.
    pub behavior: Option<String>,
}

impl CustomColumn {
    pub fn column_type(&self) -> ColumnType {
        match self.type_name.as_str() {
            "Memo" => ColumnType::Memo,
            "Integer" => ColumnType::Integer,
            "BigInt" => ColumnType::BigInt,
            "Decimal" => ColumnType::Decimal,
            "Money" => ColumnType::Money,
            "Double" => ColumnType::Double,
            "DateTime" => ColumnType::DateTime,
            "Boolean" => ColumnType::Boolean,
            "Picklist" => ColumnType::Picklist,
            _ => ColumnType::String,
        }
    }

    /// The column as the target schema describes columns, so `ferry plan`
    /// can add it to the schema it checks the target against. Choice
    /// options come from [`Proposal::schema_columns`].
    pub fn to_column(&self) -> Column {
        let column_type = self.column_type();
        let (options, min, max) = match column_type {
            ColumnType::Boolean => (vec![option(1, "Yes"), option(0, "No")], None, None),
            ColumnType::Integer => (Vec::new(), Some(-2_147_483_648.0), Some(2_147_483_647.0)),
            _ => (Vec::new(), None, None),
        };
        Column {
            name: self.name.clone(),
            column_type,
            max_length: self.max_length,
            required_level: RequiredLevel::None,
            targets: Vec::new(),
            options,
            format: self.format.clone(),
            behavior: self.behavior.clone(),
            min,
            max,
            precision: self.precision,
            valid_for_create: Some(true),
            valid_for_update: Some(true),
            custom: true,
        }
    }
}

fn option(value: i32, label: &str) -> crate::dataverse::schema::OptionValue {
    crate::dataverse::schema::OptionValue {
        value,
        label: label.to_string(),
        state: None,
        default_status: None,
    }
}

/// Where one source field goes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldProposal {
    pub object: String,
    pub field: String,
    /// The inventory's inferred type (`text`, `decimal(8,2)`, ...).
    pub source_type: String,
    /// `standard`, `custom` (`cf_*`) or `unknown` (neither documented nor `cf_`).
    pub origin: String,
    /// The object's target table (empty when the object is not loaded as rows).
    pub target_table: String,
    /// The standard (or already planned) column; `None` when the field needs
    /// a custom column, is handled without a column, or needs a decision.
    pub target_column: Option<String>,
    /// Further `table.column` targets of the same field (a status gives
    /// statecode and statuscode).
    pub also: Vec<String>,
    pub custom_column: Option<CustomColumn>,
    pub confidence: f64,
    pub status: Status,
    pub reason: String,
    /// The most frequent values, for the reader of the report.
    pub samples: Vec<String>,
    pub max_length: Option<i64>,
}

/// Which option one picklist value becomes in one target column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptionProposal {
    pub object: String,
    pub field: String,
    pub value: String,
    /// Current records holding the value (0 for a documented value nobody uses).
    pub count: i64,
    /// Whether ServiceTracker documents the value (`None`: no documented list).
    pub documented: Option<bool>,
    pub target_table: String,
    pub target_column: String,
    pub target_value: Option<i32>,
    pub target_label: String,
    pub confidence: f64,
    pub status: Status,
    pub reason: String,
    /// The value is a new option that must be inserted into the target
    /// before any record uses it (`ferry plan --apply`).
    pub new_option: bool,
    /// The line of `mapping/optionsets.csv` that confirms it.
    pub line: Option<u64>,
}

/// One source object: where it goes and what becomes of each field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectProposal {
    pub object: String,
    pub target_tables: Vec<String>,
    /// The built-in transform that loads it (`None` for an object ferry does
    /// not know).
    pub file: Option<String>,
    pub how: String,
    /// The target table is a custom table ferry proposes (an unknown object).
    pub custom_table: bool,
    pub fields: Vec<FieldProposal>,
}

/// The whole proposal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proposal {
    pub profile: Profile,
    pub prefix: String,
    /// The workspace folder (the staging database's folder).
    pub workspace: String,
    /// Where the target schema's facts come from.
    pub target: String,
    pub objects: Vec<ObjectProposal>,
    pub options: Vec<OptionProposal>,
}

impl Proposal {
    pub fn fields(&self) -> impl Iterator<Item = &FieldProposal> {
        self.objects.iter().flat_map(|o| o.fields.iter())
    }

    pub fn field(&self, object: &str, field: &str) -> Option<&FieldProposal> {
        self.fields()
            .find(|f| f.object == object && f.field == field)
    }

    pub fn object(&self, object: &str) -> Option<&ObjectProposal> {
        self.objects.iter().find(|o| o.object == object)
    }

    pub fn options_of<'a>(
        &'a self,
        object: &'a str,
        field: &'a str,
    ) -> impl Iterator<Item = &'a OptionProposal> + 'a {
        self.options
            .iter()
            .filter(move |o| o.object == object && o.field == field)
    }

    /// Every proposed custom column with the tables it goes on.
    pub fn custom_columns(&self) -> Vec<(&ObjectProposal, &FieldProposal, &CustomColumn)> {
        let mut out = Vec::new();
        for object in &self.objects {
            for field in &object.fields {
                if let Some(column) = &field.custom_column {
                    out.push((object, field, column));
                }
            }
        }
        out
    }

    /// The custom columns as schema columns, per target table, with the
    /// options proposed for choice columns: what `ferry plan` must create.
    pub fn schema_columns(&self) -> Vec<(String, Column)> {
        let mut out = Vec::new();
        for (object, field, custom) in self.custom_columns() {
            for table in &object.target_tables {
                let mut column = custom.to_column();
                if column.column_type == ColumnType::Picklist {
                    let mut seen = BTreeSet::new();
                    for o in self.options_of(&field.object, &field.field) {
                        if o.target_table == *table && o.target_column == custom.name {
                            if let Some(value) = o.target_value {
                                if seen.insert(value) {
                                    column.options.push(option(value, &o.target_label));
                                }
                            }
                        }
                    }
                }
                out.push((table.clone(), column));
            }
        }
        out
    }

    /// How many answers have each status: (fields, options).
    pub fn counts(&self) -> (BTreeMap<Status, usize>, BTreeMap<Status, usize>) {
        let mut fields = BTreeMap::new();
        for f in self.fields() {
            *fields.entry(f.status).or_insert(0) += 1;
        }
        let mut options = BTreeMap::new();
        for o in &self.options {
            *options.entry(o.status).or_insert(0) += 1;
        }
        (fields, options)
    }

    /// Whether anything still needs a person's decision.
    pub fn needs_decisions(&self) -> bool {
        self.fields().any(|f| f.status == Status::NeedsDecision)
            || self
                .options
                .iter()
                .any(|o| o.status == Status::NeedsDecision)
    }
}

// ---------------------------------------------------------------------------
// The inventory, as the proposer reads it
// ---------------------------------------------------------------------------

/// One row of `meta.inventory_fields`, the columns the proposer uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InventoryField {
    pub object: String,
    pub field: String,
    pub inferred_type: String,
    pub duckdb_type: String,
    pub origin: String,
    pub rows: i64,
    pub non_null: i64,
    pub distinct_count: i64,
    pub min_value: Option<String>,
    pub max_value: Option<String>,
    pub max_length: Option<i64>,
    pub sample_values: Vec<String>,
    pub picklist_like: bool,
    pub documented_values: Vec<String>,
    pub references: Vec<String>,
    pub multiline: Option<i64>,
    pub leading_zero: Option<i64>,
}

/// One row of `meta.inventory_values`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InventoryValue {
    pub object: String,
    pub field: String,
    pub value: String,
    pub count: i64,
    pub documented: Option<bool>,
}

/// Everything the proposer reads from the staging database.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Objects in SPEC order, fields in export order.
    pub fields: Vec<InventoryField>,
    pub values: Vec<InventoryValue>,
    pub workspace: String,
    /// Columns of every `stg.*` table, when transforms have run: a built-in
    /// mapping whose column is missing there was edited away.
    pub staged_columns: BTreeMap<String, BTreeSet<String>>,
}

/// Reads the inventory `ferry stage` built.
pub fn read_inventory(conn: &Connection) -> Result<Inventory> {
    let has_inventory: i64 = conn.query_row(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'meta' \
         AND table_name IN ('inventory_fields', 'inventory_values', 'inventory_objects') \
         AND database_name = current_database()",
        [],
        |r| r.get(0),
    )?;
    if has_inventory < 3 {
        return Err(Error::Usage(
            "there is no source inventory yet (meta.inventory_*)\n  what to do: run `ferry extract` and `ferry stage` first"
                .to_string(),
        ));
    }
    let list = |text: Option<String>| -> Vec<String> {
        text.and_then(|t| serde_json::from_str::<Vec<Option<String>>>(&t).ok())
            .map(|v| v.into_iter().flatten().collect())
            .unwrap_or_default()
    };
    let mut stmt = conn.prepare(
        "SELECT f.object, f.field, f.inferred_type, f.duckdb_type, f.origin,
                f.\"rows\", f.non_null, f.distinct_count, f.min_value, f.max_value, f.max_length,
                CAST(to_json(f.sample_values) AS VARCHAR), f.picklist_like,
                CAST(to_json(f.documented_values) AS VARCHAR),
                CAST(to_json(f.\"references\") AS VARCHAR), f.multiline, f.leading_zero
         FROM meta.inventory_fields AS f
         LEFT JOIN meta.inventory_objects AS o ON o.object = f.object
         ORDER BY coalesce(o.position, 1000000), f.object, f.position",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            InventoryField {
                object: r.get(0)?,
                field: r.get(1)?,
                inferred_type: r.get(2)?,
                duckdb_type: r.get(3)?,
                origin: r.get(4)?,
                rows: r.get(5)?,
                non_null: r.get(6)?,
                distinct_count: r.get(7)?,
                min_value: r.get(8)?,
                max_value: r.get(9)?,
                max_length: r.get(10)?,
                picklist_like: r.get(12)?,
                multiline: r.get(15)?,
                leading_zero: r.get(16)?,
                ..InventoryField::default()
            },
            r.get::<_, Option<String>>(11)?,
            r.get::<_, Option<String>>(13)?,
            r.get::<_, Option<String>>(14)?,
        ))
    })?;
    let mut fields = Vec::new();
    for row in rows {
        let (mut field, samples, documented, references) = row?;
        field.sample_values = list(samples);
        field.documented_values = list(documented);
        field.references = list(references);
        fields.push(field);
    }

    let mut stmt = conn.prepare(
        "SELECT object, field, value, count, documented FROM meta.inventory_values
         ORDER BY object, field, count DESC, value",
    )?;
    let values = stmt
        .query_map([], |r| {
            Ok(InventoryValue {
                object: r.get(0)?,
                field: r.get(1)?,
                value: r.get(2)?,
                count: r.get(3)?,
                documented: r.get(4)?,
            })
        })?
        .collect::<std::result::Result<Vec<_>, _>>()?;

    let mut staged_columns: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stmt = conn.prepare(
        "SELECT table_name, column_name FROM duckdb_columns() \
         WHERE schema_name = 'stg' AND database_name = current_database()",
    )?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
        let (table, column) = row?;
        staged_columns.entry(table).or_default().insert(column);
    }

    let database: Option<String> = conn
        .query_row(
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()",
            [],
            |r| r.get(0),
        )
        .unwrap_or(None);
    let workspace = database
        .as_deref()
        .and_then(|p| Path::new(p).parent())
        .map(|p| p.display().to_string())
        .unwrap_or_default();

    Ok(Inventory {
        fields,
        values,
        workspace,
        staged_columns,
    })
}

/// Reads the inventory and proposes the map. `existing` is
/// `mapping/optionsets.csv` as read by [`super::read_optionsets`].
pub fn propose(
    conn: &Connection,
    schema: &Schema,
    profile: Profile,
    prefix: &str,
    existing: &[OptionTranslation],
) -> Result<Proposal> {
    let inventory = read_inventory(conn)?;
    Ok(propose_from(&inventory, schema, profile, prefix, existing))
}

// ---------------------------------------------------------------------------
// Fields
// ---------------------------------------------------------------------------

/// Where an object goes, resolved for a profile and prefix.
struct ObjectPlan {
    tables: Vec<String>,
    file: Option<String>,
    custom_columns: bool,
    how: String,
    custom_table: bool,
}

fn object_plan(object: &str, profile: Profile, prefix: &str) -> ObjectPlan {
    match synonyms::object_target(object) {
        Some(target) => {
            let Placement {
                tables,
                file,
                custom_columns,
                how,
            } = *target.placement(profile);
            ObjectPlan {
                tables: tables.iter().map(|t| with_prefix(t, prefix)).collect(),
                file: Some(file.to_string()),
                custom_columns,
                how: how.to_string(),
                custom_table: false,
            }
        }
        None => {
            // A ServiceTracker object ferry has never heard of is a custom
            // object, like equipment: it needs a custom table of its own.
            let singular = object
                .strip_suffix('s')
                .filter(|s| s.len() > 2 && !s.ends_with('s'))
                .unwrap_or(object);
            let room = MAX_CUSTOM_NAME.saturating_sub(prefix.len() + 1);
            let table = format!("{prefix}_{}", truncate(&logical_stem(singular), room));
            ObjectPlan {
                tables: vec![table.clone()],
                file: None,
                custom_columns: true,
                how: format!(
                    "an object ferry does not know: proposed as a new custom table {table}"
                ),
                custom_table: true,
            }
        }
    }
}

fn with_prefix(text: &str, prefix: &str) -> String {
    text.replace("{prefix}", prefix)
}

/// What a built-in transform does with a field, resolved for the workspace.
struct Decided {
    table: String,
    column: Option<String>,
    also: Vec<String>,
    file: String,
    how: String,
}

/// The built-in decision for a field, if the transforms make one: the
/// listed rows, else the rules every object shares for `id`, `created_at`
/// and `modified_at`, else "not migrated" for objects that are not loaded.
fn builtin_decision(
    object: &str,
    field: &str,
    profile: Profile,
    prefix: &str,
    plan: &ObjectPlan,
    schema: &Schema,
) -> Option<Decided> {
    let rows: Vec<&BuiltinMapping> = synonyms::BUILTIN
        .iter()
        .filter(|m| m.object == object && m.field == field && m.only.applies(profile))
        .collect();
    if let Some(first) = rows.first() {
        let column_of =
            |m: &BuiltinMapping| (!m.column.is_empty()).then(|| with_prefix(m.column, prefix));
        let table = with_prefix(first.table, prefix);
        let also = rows[1..]
            .iter()
            .filter_map(|m| column_of(m).map(|c| format!("{}.{c}", with_prefix(m.table, prefix))))
            .collect();
        let how = rows
            .iter()
            .map(|m| m.how)
            .filter(|h| !h.is_empty())
            .fold(Vec::<&str>::new(), |mut acc, h| {
                if !acc.contains(&h) {
                    acc.push(h);
                }
                acc
            })
            .join("; ");
        return Some(Decided {
            table,
            column: column_of(first),
            also,
            file: first.file.to_string(),
            how,
        });
    }
    let file = plan
        .file
        .clone()
        .unwrap_or_else(|| "the proposed custom-table transform".to_string());
    let Some(table) = plan.tables.first() else {
        // Not loaded as rows at all (workflows): every field goes with it.
        return Some(Decided {
            table: String::new(),
            column: None,
            also: Vec::new(),
            file,
            how: plan.how.clone(),
        });
    };
    match field {
        "id" => Some(Decided {
            table: table.clone(),
            column: Some(format!("{prefix}_record_id")),
            also: Vec::new(),
            file,
            how: "the source id: the traceability column and the seed of the record's GUID"
                .to_string(),
        }),
        "created_at"
            if plan.custom_table || schema.column(table, "overriddencreatedon").is_some() =>
        {
            Some(Decided {
                table: table.clone(),
                column: Some("overriddencreatedon".to_string()),
                also: Vec::new(),
                file,
                how: "the original creation time".to_string(),
            })
        }
        "modified_at" => Some(Decided {
            table: table.clone(),
            column: None,
            also: Vec::new(),
            file,
            how: "not migrated: Dataverse sets modifiedon itself".to_string(),
        }),
        _ => None,
    }
}

/// A field name taken apart for matching.
#[derive(Debug, Clone)]
struct FieldName {
    /// All words run together: `billingpostalcode`.
    full: String,
    /// Without an address qualifier: `postalcode`.
    rest: String,
    /// 1 or 2 when a qualifier names the address, else 0.
    slot: u8,
}

/// Lower-case words of a name: split at non-alphanumerics and camelCase
/// humps, with the `cf_` of a custom field dropped.
fn words(name: &str) -> Vec<String> {
    let body = match name.get(..3) {
        Some(head) if name.len() > 3 && head.eq_ignore_ascii_case("cf_") => &name[3..],
        _ => name,
    };
    let mut out = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in body.chars() {
        if c.is_alphanumeric() {
            if c.is_uppercase() && previous_lower && !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            previous_lower = c.is_lowercase() || c.is_ascii_digit();
            current.extend(c.to_lowercase());
        } else {
            previous_lower = false;
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn field_name(field: &str) -> FieldName {
    let words = words(field);
    let full = words.concat();
    if words.len() > 1 {
        if let Some((_, slot)) = synonyms::ADDRESS_QUALIFIERS
            .iter()
            .find(|(q, _)| *q == words[0])
        {
            return FieldName {
                full,
                rest: words[1..].concat(),
                slot: *slot,
            };
        }
    }
    FieldName {
        rest: full.clone(),
        full,
        slot: 0,
    }
}

/// A column name's address slot and stem: `address1_postalcode` → (1,
/// `postalcode`), `msdyn_postalcode` → (0, `postalcode`), `st_ponumber` →
/// (0, `ponumber`).
fn column_stem(column: &str, prefix: &str) -> (u8, String) {
    let mut name = column;
    let mut slot = 0;
    if let Some(rest) = name.strip_prefix("address1_") {
        slot = 1;
        name = rest;
    } else if let Some(rest) = name.strip_prefix("address2_") {
        slot = 2;
        name = rest;
    }
    if let Some(rest) = name.strip_prefix("msdyn_") {
        name = rest;
    }
    let own = format!("{prefix}_");
    if let Some(rest) = name.strip_prefix(own.as_str()) {
        name = rest;
    }
    (slot, name.replace('_', ""))
}

/// How well a field's name fits a column, 0..1, and why.
fn name_score(field: &FieldName, column: &str, prefix: &str) -> (f64, &'static str) {
    let (slot, stem) = column_stem(column, prefix);
    let compact = column.replace('_', "");
    let aliases = synonyms::COLUMN_SYNONYMS
        .iter()
        .find(|(s, _)| *s == stem)
        .map(|(_, a)| *a)
        .unwrap_or(&[]);
    let (score, why) = if field.full == compact {
        (1.0, "same name")
    } else if field.rest == stem {
        (0.95, "same name")
    } else if aliases.contains(&field.rest.as_str()) || aliases.contains(&field.full.as_str()) {
        (0.9, "a synonym")
    } else {
        let similar = similarity(&field.rest, &stem);
        if similar >= 0.75 {
            (similar * 0.8, "a similar name")
        } else {
            (0.0, "")
        }
    };
    // The address a qualifier names must be the column's; an unqualified
    // field prefers the entity's own column, then address 1.
    let slot_factor = match (field.slot, slot) {
        (0, 0) => 1.0,
        (0, 1) => 0.85,
        (0, _) => 0.6,
        (_, 0) => 0.9,
        (a, b) if a == b => 1.0,
        _ => 0.4,
    };
    (score * slot_factor, why)
}

/// Similarity of two compact strings: edit distance, or one containing the
/// other (`postal` in `postalcode`).
fn similarity(a: &str, b: &str) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (short, long) = if a.chars().count() <= b.chars().count() {
        (a, b)
    } else {
        (b, a)
    };
    let (ls, ll) = (short.chars().count(), long.chars().count());
    let contained = if ls >= 4 && long.contains(short) {
        0.5 + 0.5 * ls as f64 / ll as f64
    } else {
        0.0
    };
    let edit = 1.0 - levenshtein(a, b) as f64 / ll as f64;
    edit.max(contained)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// What the source column holds, from its staged DuckDB type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceKind {
    Text,
    Integer,
    Decimal { scale: u32 },
    Double,
    Boolean,
    Date,
    Timestamp,
    Other,
}

fn source_kind(duckdb_type: &str) -> SourceKind {
    let t = duckdb_type.to_ascii_uppercase();
    match t.as_str() {
        "VARCHAR" => SourceKind::Text,
        "BIGINT" | "INTEGER" | "SMALLINT" | "TINYINT" | "HUGEINT" | "UBIGINT" | "UINTEGER"
        | "USMALLINT" | "UTINYINT" => SourceKind::Integer,
        "DOUBLE" | "FLOAT" | "REAL" => SourceKind::Double,
        "BOOLEAN" => SourceKind::Boolean,
        "DATE" => SourceKind::Date,
        _ if t.starts_with("TIMESTAMP") => SourceKind::Timestamp,
        _ if t.starts_with("DECIMAL") => {
            let scale = t
                .trim_start_matches("DECIMAL")
                .trim_matches(['(', ')'])
                .split(',')
                .nth(1)
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(4);
            SourceKind::Decimal { scale }
        }
        _ => SourceKind::Other,
    }
}

/// What the values of a text field look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueProfile {
    Email,
    Phone,
    Url,
    Date,
    Integer,
    Decimal,
    Text,
    /// No values to judge by.
    Unknown,
}

impl ValueProfile {
    fn describe(self) -> &'static str {
        match self {
            ValueProfile::Email => "e-mail addresses",
            ValueProfile::Phone => "phone numbers",
            ValueProfile::Url => "web addresses",
            ValueProfile::Date => "dates",
            ValueProfile::Integer => "whole numbers",
            ValueProfile::Decimal => "decimal numbers",
            ValueProfile::Text => "text",
            ValueProfile::Unknown => "nothing (no values)",
        }
    }

    /// The display format of a Dataverse text column for such values.
    fn format(self) -> Option<&'static str> {
        match self {
            ValueProfile::Email => Some("Email"),
            ValueProfile::Phone => Some("Phone"),
            ValueProfile::Url => Some("Url"),
            _ => None,
        }
    }
}

fn looks_like_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !v.contains(char::is_whitespace)
        && !domain.contains('@')
        && domain.split('.').count() >= 2
        && domain.split('.').all(|p| !p.is_empty())
}

fn looks_like_url(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("www."))
        && !v.contains(char::is_whitespace)
}

fn looks_like_phone(v: &str) -> bool {
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let allowed = v
        .chars()
        .all(|c| c.is_ascii_digit() || " +()-./x".contains(c));
    let separated = v.starts_with('+') || v.chars().any(|c| " ()-./".contains(c));
    allowed && separated && (7..=15).contains(&digits)
}

fn looks_like_date(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn looks_like_integer(v: &str) -> bool {
    let digits = v.strip_prefix('-').unwrap_or(v);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn looks_like_decimal(v: &str) -> bool {
    let digits = v.strip_prefix('-').unwrap_or(v);
    match digits.split_once('.') {
        Some((a, b)) => {
            !a.is_empty() && !b.is_empty() && looks_like_integer(a) && looks_like_integer(b)
        }
        None => false,
    }
}

/// A value profile and the test a sample value must pass to show it.
type ProfileTest = (ValueProfile, fn(&str) -> bool);

/// The profile most (80%) of a text field's sample, minimum and maximum
/// values share.
fn value_profile(field: &InventoryField) -> ValueProfile {
    let mut values: Vec<&str> = field.sample_values.iter().map(String::as_str).collect();
    values.extend(field.min_value.as_deref());
    values.extend(field.max_value.as_deref());
    values.retain(|v| !v.trim().is_empty());
    values.sort_unstable();
    values.dedup();
    if values.is_empty() {
        return ValueProfile::Unknown;
    }
    let share = |test: fn(&str) -> bool| {
        values.iter().filter(|v| test(v.trim())).count() as f64 / values.len() as f64
    };
    let checks: [ProfileTest; 6] = [
        (ValueProfile::Email, looks_like_email),
        (ValueProfile::Url, looks_like_url),
        (ValueProfile::Date, looks_like_date),
        (ValueProfile::Phone, looks_like_phone),
        (ValueProfile::Integer, looks_like_integer),
        (ValueProfile::Decimal, looks_like_decimal),
    ];
    for (profile, test) in checks {
        if share(test) >= 0.8 {
            return profile;
        }
    }
    ValueProfile::Text
}

/// Whether a source of this kind can land in the column, 0..1.
fn type_factor(
    kind: SourceKind,
    field: &InventoryField,
    column: &Column,
    text: ValueProfile,
) -> f64 {
    use ColumnType as C;
    let numeric_text = matches!(text, ValueProfile::Integer | ValueProfile::Decimal);
    match (kind, column.column_type) {
        (SourceKind::Text, C::String | C::Memo) => 1.0,
        (SourceKind::Text, C::Picklist | C::Status) => {
            if field.picklist_like {
                0.85
            } else {
                0.2
            }
        }
        (SourceKind::Text, C::Boolean) => 0.2,
        (SourceKind::Text, C::Integer | C::BigInt | C::Decimal | C::Double | C::Money) => {
            if numeric_text {
                0.5
            } else {
                0.05
            }
        }
        (SourceKind::Text, C::DateTime) => {
            if text == ValueProfile::Date {
                0.5
            } else {
                0.05
            }
        }
        (SourceKind::Integer, C::Integer | C::BigInt) => 1.0,
        (SourceKind::Integer, C::Decimal | C::Double | C::Money) => 0.85,
        (SourceKind::Integer, C::String | C::Memo) => 0.5,
        (SourceKind::Integer, C::Picklist) => 0.3,
        (SourceKind::Decimal { .. }, C::Decimal | C::Money) => 1.0,
        (SourceKind::Decimal { .. }, C::Double) => 0.9,
        (SourceKind::Decimal { scale }, C::Integer | C::BigInt) => {
            if scale == 0 {
                0.8
            } else {
                0.4
            }
        }
        (SourceKind::Decimal { .. }, C::String | C::Memo) => 0.4,
        (SourceKind::Double, C::Double) => 1.0,
        (SourceKind::Double, C::Decimal | C::Money) => 0.9,
        (SourceKind::Double, C::String | C::Memo) => 0.4,
        (SourceKind::Boolean, C::Boolean) => 1.0,
        (SourceKind::Boolean, C::Picklist) => 0.5,
        (SourceKind::Boolean, C::String | C::Memo) => 0.3,
        (SourceKind::Date, C::DateTime) => {
            if column.is_date_only() {
                1.0
            } else {
                0.9
            }
        }
        (SourceKind::Timestamp, C::DateTime) => {
            if column.is_date_only() {
                0.7
            } else {
                1.0
            }
        }
        (SourceKind::Date | SourceKind::Timestamp, C::String | C::Memo) => 0.3,
        _ => 0.0,
    }
}

/// Whether the column may receive a source field at all: ids, type names,
/// party lists and read-only columns are the platform's, a state follows
/// its status, and lookups take only reference fields.
fn candidate_column(column: &Column, field: &InventoryField, record_id: &str) -> bool {
    use ColumnType as C;
    if column.name == record_id || column.valid_for_create == Some(false) {
        return false;
    }
    match column.column_type {
        C::Uniqueidentifier
        | C::EntityName
        | C::PartyList
        | C::Image
        | C::State
        | C::MultiSelectPicklist => false,
        C::Lookup | C::Customer | C::Owner => !field.references.is_empty(),
        _ => true,
    }
}

/// The score of a (field, column) pair with its reason.
fn score_pair(
    field: &InventoryField,
    name: &FieldName,
    column: &Column,
    table: &str,
    prefix: &str,
    profile: Profile,
) -> Option<(f64, String)> {
    let kind = source_kind(&field.duckdb_type);
    let text_profile = if kind == SourceKind::Text {
        value_profile(field)
    } else {
        ValueProfile::Unknown
    };
    let (mut name_part, mut why) = name_score(name, &column.name, prefix);
    let mut notes: Vec<String> = Vec::new();

    // Values in a special format can carry a field whose name says nothing.
    let special = text_profile.format();
    let column_format = column.format.as_deref();
    let profile_factor = match (special, column_format) {
        (Some(s), Some(f)) if s == f => {
            if name_part < 0.5 {
                name_part = 0.5;
                why = "its values";
            }
            notes.push(format!("values look like {}", text_profile.describe()));
            1.15
        }
        (Some(_), Some("Email" | "Phone" | "Url")) => {
            notes.push(format!(
                "values look like {}, not what the column holds",
                text_profile.describe()
            ));
            0.3
        }
        (Some(_), _) => 0.85,
        (None, Some("Email" | "Phone" | "Url")) if text_profile == ValueProfile::Text => {
            notes.push("values do not look like what the column holds".to_string());
            0.6
        }
        _ => 1.0,
    };
    if name_part <= 0.0 {
        return None;
    }

    let type_part = if column.is_lookup() {
        let referenced: Vec<String> = field
            .references
            .iter()
            .flat_map(|o| object_plan(o, profile, prefix).tables)
            .collect();
        if column.targets.iter().any(|t| referenced.contains(t)) {
            1.0
        } else {
            0.0
        }
    } else {
        type_factor(kind, field, column, text_profile)
    };
    if type_part <= 0.0 {
        return None;
    }
    if type_part < 0.6 {
        notes.push(format!(
            "{} into a {} column",
            field.inferred_type,
            column.column_type.as_str()
        ));
    }

    let length_part = match (field.max_length, column.max_length) {
        (Some(longest), Some(max)) if longest > max => {
            notes.push(format!(
                "longest value {longest} characters > {max}: those rows become findings"
            ));
            0.75
        }
        _ => 1.0,
    };
    let score = (name_part * type_part * profile_factor * length_part).min(0.99);
    let mut reason = format!("{why}: {table}.{}", column.name);
    if !notes.is_empty() {
        reason.push_str(" (");
        reason.push_str(&notes.join("; "));
        reason.push(')');
    }
    Some((score, reason))
}

/// A lower-case ASCII name for a Dataverse logical name: words run
/// together, umlauts spelt out, anything else dropped.
fn logical_stem(name: &str) -> String {
    let mut out = String::new();
    for c in words(name).concat().chars() {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            'ä' => out.push_str("ae"),
            'ö' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            'à' | 'á' | 'â' | 'å' => out.push('a'),
            'è' | 'é' | 'ê' | 'ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' => out.push('i'),
            'ò' | 'ó' | 'ô' => out.push('o'),
            'ù' | 'ú' | 'û' => out.push('u'),
            'ç' => out.push('c'),
            'ñ' => out.push('n'),
            _ => {}
        }
    }
    if out.is_empty() {
        "field".to_string()
    } else {
        out
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// `<prefix>_<stem>`, numbered when the name is taken.
fn custom_name(field: &str, prefix: &str, taken: &BTreeSet<String>) -> String {
    let room = MAX_CUSTOM_NAME.saturating_sub(prefix.len() + 1);
    let stem = truncate(&logical_stem(field), room);
    let base = format!("{prefix}_{stem}");
    if !taken.contains(&base) {
        return base;
    }
    (2..)
        .map(|n| {
            let suffix = n.to_string();
            format!(
                "{prefix}_{}{suffix}",
                truncate(&stem, room.saturating_sub(suffix.len()))
            )
        })
        .find(|name| !taken.contains(name))
        .expect("some numbered name is free")
}

/// Text length with headroom, rounded up to a size people recognise.
fn text_size(longest: i64) -> (&'static str, i64) {
    const STRING_SIZES: [i64; 8] = [20, 50, 100, 200, 500, 1000, 2000, MAX_STRING_LENGTH];
    const MEMO_SIZES: [i64; 3] = [10_000, 100_000, 1_048_576];
    let wanted = longest + (longest / 2).max(10);
    if let Some(size) = STRING_SIZES.iter().find(|s| **s >= wanted) {
        return ("String", *size);
    }
    (
        "Memo",
        *MEMO_SIZES
            .iter()
            .find(|s| **s >= wanted)
            .unwrap_or(&MEMO_SIZES[2]),
    )
}

/// Decimal places in a sample value (`12.50` → 2).
fn decimals(value: &str) -> u32 {
    value
        .split_once('.')
        .map(|(_, d)| d.trim_end_matches('0').len() as u32)
        .unwrap_or(0)
}

fn custom_choice(field: &InventoryField) -> bool {
    source_kind(&field.duckdb_type) == SourceKind::Text
        && field.picklist_like
        && field.distinct_count > 0
        && field.distinct_count <= CUSTOM_CHOICE_MAX_VALUES
        && field.max_length.unwrap_or(0) <= CUSTOM_CHOICE_MAX_LABEL
        && field.multiline.unwrap_or(0) == 0
        && field.leading_zero.unwrap_or(0) == 0
}

/// The custom column a field's data calls for, and why.
fn custom_column_for(field: &InventoryField, name: String) -> (CustomColumn, String) {
    let mut column = CustomColumn {
        name,
        type_name: "String".to_string(),
        max_length: None,
        precision: None,
        format: None,
        behavior: None,
    };
    let why = match source_kind(&field.duckdb_type) {
        SourceKind::Boolean => {
            column.type_name = "Boolean".into();
            "true/false values: a two-option (Yes/No) column".to_string()
        }
        SourceKind::Date => {
            column.type_name = "DateTime".into();
            column.format = Some("DateOnly".into());
            column.behavior = Some("DateOnly".into());
            "calendar dates: a date-only column".to_string()
        }
        SourceKind::Timestamp => {
            column.type_name = "DateTime".into();
            column.format = Some("DateAndTime".into());
            column.behavior = Some("UserLocal".into());
            "timestamps: a date-and-time column (stored in UTC)".to_string()
        }
        SourceKind::Integer => {
            let fits = |v: &Option<String>| {
                v.as_deref()
                    .and_then(|t| t.parse::<i64>().ok())
                    .is_none_or(|n| i32::try_from(n).is_ok())
            };
            if fits(&field.min_value) && fits(&field.max_value) {
                column.type_name = "Integer".into();
                format!(
                    "whole numbers ({} to {}): a whole-number column",
                    field.min_value.as_deref().unwrap_or("?"),
                    field.max_value.as_deref().unwrap_or("?")
                )
            } else {
                column.type_name = "BigInt".into();
                "whole numbers beyond 32 bits: a big-integer column".to_string()
            }
        }
        SourceKind::Decimal { scale } => {
            let places = scale.min(10);
            let words = words(&field.field);
            let money = words
                .iter()
                .any(|w| synonyms::MONEY_WORDS.contains(&w.as_str()));
            column.type_name = if money { "Money" } else { "Decimal" }.into();
            column.precision = Some(if money { places.min(4) } else { places });
            let mut why = format!(
                "decimal numbers with {scale} decimal places: a {} column with {places}",
                if money { "currency" } else { "decimal" }
            );
            if scale > places || (money && places > 4) {
                why.push_str(" (values are rounded: check the precision_loss findings)");
            }
            why
        }
        SourceKind::Double => {
            let mut values: Vec<&String> = field.sample_values.iter().collect();
            values.extend(field.min_value.iter());
            values.extend(field.max_value.iter());
            let places = values.iter().map(|v| decimals(v)).max().unwrap_or(2).min(5);
            column.type_name = "Double".into();
            column.precision = Some(places);
            format!("floating-point numbers with up to {places} decimal places in the samples: a floating-point column")
        }
        SourceKind::Text if custom_choice(field) => {
            column.type_name = "Picklist".into();
            format!(
                "a short list of {} labels: a choice column with new options",
                field.distinct_count
            )
        }
        SourceKind::Text | SourceKind::Other => {
            let longest = field.max_length.unwrap_or(0);
            let multiline = field.multiline.unwrap_or(0) > 0;
            let (type_name, size) = text_size(longest);
            let profile = value_profile(field);
            let mut why = if field.non_null == 0 {
                "no values seen: text of a default size".to_string()
            } else {
                format!("text, longest value {longest} characters")
            };
            if multiline && type_name == "String" {
                column.type_name = "Memo".into();
                column.max_length = Some(size.max(2000));
                column.format = Some("TextArea".into());
                why.push_str(", several lines: a multi-line column");
            } else {
                column.type_name = type_name.into();
                column.max_length = Some(if field.non_null == 0 { 100 } else { size });
                if type_name == "Memo" {
                    column.format = Some("TextArea".into());
                    why.push_str(&format!(
                        ", beyond {MAX_STRING_LENGTH}: a multi-line column"
                    ));
                } else {
                    column.format = Some(profile.format().unwrap_or("Text").into());
                }
            }
            if let Some(format) = profile.format() {
                why.push_str(&format!(
                    ", values look like {} ({format} format)",
                    profile.describe()
                ));
            }
            if field.leading_zero.unwrap_or(0) > 0 {
                why.push_str(", leading zeros: stays text");
            }
            why
        }
    };
    (column, why)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn fields_of<'a>(inventory: &'a Inventory, object: &str) -> Vec<&'a InventoryField> {
    inventory
        .fields
        .iter()
        .filter(|f| f.object == object)
        .collect()
}

/// Proposes the map from an inventory already read: the pure part of
/// [`propose`], usable on an inventory built by hand.
pub fn propose_from(
    inventory: &Inventory,
    schema: &Schema,
    profile: Profile,
    prefix: &str,
    existing: &[OptionTranslation],
) -> Proposal {
    let mut objects: Vec<&str> = Vec::new();
    for f in &inventory.fields {
        if !objects.contains(&f.object.as_str()) {
            objects.push(&f.object);
        }
    }
    let mut proposal = Proposal {
        profile,
        prefix: prefix.to_string(),
        workspace: inventory.workspace.clone(),
        target: schema.source().to_string(),
        objects: Vec::new(),
        options: Vec::new(),
    };
    let mut options = OptionPlanner::new(schema, existing, profile, prefix);
    for object in objects {
        let plan = object_plan(object, profile, prefix);
        let fields = fields_of(inventory, object);
        let proposals = propose_fields(&fields, &plan, inventory, schema, profile, prefix);
        for (field, fp) in fields.iter().zip(&proposals) {
            options.propose_field(field, fp, &plan, inventory, &mut proposal.options);
        }
        proposal.objects.push(ObjectProposal {
            object: object.to_string(),
            target_tables: plan.tables.clone(),
            file: plan.file.clone(),
            how: plan.how.clone(),
            custom_table: plan.custom_table,
            fields: proposals,
        });
    }
    proposal
}

fn propose_fields(
    fields: &[&InventoryField],
    plan: &ObjectPlan,
    inventory: &Inventory,
    schema: &Schema,
    profile: Profile,
    prefix: &str,
) -> Vec<FieldProposal> {
    let record_id = format!("{prefix}_record_id");
    let main_table = plan.tables.first().cloned().unwrap_or_default();
    let mut out: Vec<Option<FieldProposal>> = vec![None; fields.len()];
    let mut used: BTreeSet<String> = BTreeSet::new();

    let base = |f: &InventoryField| FieldProposal {
        object: f.object.clone(),
        field: f.field.clone(),
        source_type: f.inferred_type.clone(),
        origin: f.origin.clone(),
        target_table: main_table.clone(),
        target_column: None,
        also: Vec::new(),
        custom_column: None,
        confidence: 1.0,
        status: Status::Confirmed,
        reason: String::new(),
        samples: f.sample_values.clone(),
        max_length: f.max_length,
    };

    // 1. What the built-in transforms decide.
    for (i, f) in fields.iter().enumerate() {
        let Some(d) = builtin_decision(&f.object, &f.field, profile, prefix, plan, schema) else {
            continue;
        };
        let mut p = base(f);
        p.target_table = d.table.clone();
        p.target_column = d.column.clone();
        p.also = d.also.clone();
        // "mapped" when the field fills a column; "handled" when the
        // transform folds it into something else or leaves it out on purpose.
        let verb = if d.column.is_some() {
            "mapped"
        } else {
            "handled"
        };
        p.reason = if d.how.is_empty() {
            format!("{verb} by {}", d.file)
        } else {
            format!("{verb} by {}: {}", d.file, d.how)
        };
        if let Some(column) = &d.column {
            if d.table == main_table {
                used.insert(column.clone());
            }
            for other in &d.also {
                if let Some((t, c)) = other.split_once('.') {
                    if t == main_table {
                        used.insert(c.to_string());
                    }
                }
            }
            // The activity type picks the table rather than filling a
            // column, so stg has no activitytypecode to look for.
            let edited_away = column != ACTIVITY_TYPE_COLUMN
                && inventory
                    .staged_columns
                    .get(&d.table)
                    .is_some_and(|cols| !cols.contains(column));
            if edited_away {
                p.status = Status::Proposed;
                p.confidence = 0.8;
                p.reason = format!(
                    "{} maps it to {}.{column}, but stg.{} has no such column: was the transform edited?",
                    d.file, d.table, d.table
                );
            } else if !plan.custom_table
                && !d.table.is_empty()
                && schema.column(&d.table, column).is_none()
                && schema.table(&d.table).is_some()
            {
                p.reason.push_str(&format!(
                    " (the target schema has no column {}.{column}: `ferry plan` reports it)",
                    d.table
                ));
            }
        }
        out[i] = Some(p);
    }

    // 2. The rest, scored against the main table's free columns; the best
    //    pairs win, one field per column.
    let table = schema.table(&main_table).filter(|_| !plan.custom_table);
    let mut pairs: Vec<(f64, usize, String, String)> = Vec::new();
    let mut best_rejected: HashMap<usize, (f64, String)> = HashMap::new();
    if let Some(table) = table {
        for (i, f) in fields.iter().enumerate() {
            if out[i].is_some() {
                continue;
            }
            let name = field_name(&f.field);
            for column in &table.columns {
                if used.contains(&column.name) || !candidate_column(column, f, &record_id) {
                    continue;
                }
                let Some((score, reason)) =
                    score_pair(f, &name, column, &main_table, prefix, profile)
                else {
                    continue;
                };
                if score >= STANDARD_THRESHOLD {
                    pairs.push((score, i, column.name.clone(), reason));
                } else {
                    let best = best_rejected.entry(i).or_insert((0.0, String::new()));
                    if score > best.0 {
                        *best = (score, column.name.clone());
                    }
                }
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    for (score, i, column, reason) in pairs {
        if out[i].is_some() || used.contains(&column) {
            continue;
        }
        used.insert(column.clone());
        let mut p = base(fields[i]);
        p.target_column = Some(column);
        p.confidence = round2(score);
        p.status = Status::Proposed;
        p.reason = reason;
        out[i] = Some(p);
    }

    // 3. Custom columns for what is left, where the tables can take them.
    let mut taken: BTreeSet<String> = used.clone();
    for t in &plan.tables {
        if let Some(table) = schema.table(t) {
            taken.extend(table.columns.iter().map(|c| c.name.clone()));
        }
    }
    taken.insert(record_id.clone());
    for (i, f) in fields.iter().enumerate() {
        if out[i].is_some() {
            continue;
        }
        let mut p = base(f);
        let closest = best_rejected
            .get(&i)
            .filter(|(s, _)| *s > 0.0)
            .map(|(s, c)| format!(" (closest: {c} at {s:.2})"));
        if !plan.custom_columns {
            p.status = Status::NeedsDecision;
            p.confidence = 0.0;
            p.reason = format!(
                "{} {}; a field of it has no column to go to: edit {} to carry it (e.g. into note text) or leave it out",
                f.object,
                plan.how,
                plan.file.as_deref().unwrap_or("the transform")
            );
        } else {
            let name = custom_name(&f.field, prefix, &taken);
            taken.insert(name.clone());
            let (column, why) = custom_column_for(f, name);
            let best = best_rejected.get(&i).map(|(s, _)| *s).unwrap_or(0.0);
            p.status = Status::Custom;
            p.confidence = round2(if f.non_null == 0 {
                0.5
            } else {
                (0.9 - best * 0.5).max(0.5)
            });
            p.reason = if plan.custom_table {
                format!(
                    "column {} of the new table {main_table}: {why}",
                    column.name
                )
            } else {
                format!(
                    "no standard column of {main_table} fits{}: custom column {}, {why}",
                    closest.unwrap_or_default(),
                    column.name
                )
            };
            p.custom_column = Some(column);
        }
        out[i] = Some(p);
    }
    out.into_iter()
        .map(|p| p.expect("every field decided"))
        .collect()
}

// ---------------------------------------------------------------------------
// Picklist values
// ---------------------------------------------------------------------------

/// Normalises a label for comparison: lower case, words separated by one
/// space.
fn norm_label(s: &str) -> String {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Match {
    Exact,
    ScopedSynonym,
    Synonym,
    Similar(f64),
}

impl Match {
    fn score(self) -> f64 {
        match self {
            Match::Exact => 1.0,
            Match::ScopedSynonym => 0.85,
            Match::Synonym => 0.8,
            Match::Similar(s) => s,
        }
    }

    fn confidence(self) -> f64 {
        match self {
            Match::Exact => 0.95,
            Match::ScopedSynonym => 0.85,
            Match::Synonym => 0.8,
            Match::Similar(s) => s * 0.9,
        }
    }
}

/// How a source value compares to an option label on `table.column`.
fn compare_label(value: &str, label: &str, scope: &str) -> Match {
    let v = norm_label(value);
    // An existing translation's label may explain itself in parentheses.
    let l = norm_label(label.split(" (").next().unwrap_or(label));
    if v == l || v.replace(' ', "") == l.replace(' ', "") {
        return Match::Exact;
    }
    for (s, from, to) in synonyms::OPTION_SYNONYMS {
        if norm_label(from) == v && norm_label(to) == l {
            if *s == scope {
                return Match::ScopedSynonym;
            }
            if *s == "*" {
                return Match::Synonym;
            }
        }
    }
    let vw: BTreeSet<&str> = v.split(' ').collect();
    let lw: BTreeSet<&str> = l.split(' ').collect();
    let jaccard = vw.intersection(&lw).count() as f64 / vw.union(&lw).count().max(1) as f64;
    Match::Similar(
        similarity(&v.replace(' ', ""), &l.replace(' ', ""))
            .max(jaccard)
            .min(0.94),
    )
}

/// A value is a new tier when its words say so: a documented priority
/// `Critical` above Dataverse's `High` is a real level the target must gain.
const TIER_WORDS: &[&str] = &[
    "critical",
    "urgent",
    "emergency",
    "highest",
    "lowest",
    "severe",
    "blocker",
    "major",
    "minor",
    "trivial",
    "platinum",
    "gold",
    "silver",
    "bronze",
    "premium",
    "vip",
];

fn is_tier(value: &str) -> bool {
    norm_label(value)
        .split(' ')
        .any(|w| TIER_WORDS.contains(&w))
}

type TranslationKey = (String, String, String, String, String);

/// What was chosen for each value's status, per (table, value): a state
/// follows from it.
type StatusChoices = HashMap<(String, String), (Option<i32>, f64, Status)>;

/// Proposes option translations, remembering the option values already
/// used per target column so new ones never collide.
struct OptionPlanner<'a> {
    schema: &'a Schema,
    existing: &'a [OptionTranslation],
    by_key: HashMap<TranslationKey, &'a OptionTranslation>,
    used: HashMap<(String, String), BTreeSet<i32>>,
    profile: Profile,
    prefix: String,
}

impl<'a> OptionPlanner<'a> {
    fn new(
        schema: &'a Schema,
        existing: &'a [OptionTranslation],
        profile: Profile,
        prefix: &str,
    ) -> Self {
        let mut by_key = HashMap::new();
        let mut used: HashMap<(String, String), BTreeSet<i32>> = HashMap::new();
        for t in existing {
            by_key.insert(
                (
                    t.source_object.clone(),
                    t.source_field.clone(),
                    t.source_value.clone(),
                    t.target_table.clone(),
                    t.target_column.clone(),
                ),
                t,
            );
            used.entry((t.target_table.clone(), t.target_column.clone()))
                .or_default()
                .insert(t.target_value);
        }
        OptionPlanner {
            schema,
            existing,
            by_key,
            used,
            profile,
            prefix: prefix.to_string(),
        }
    }

    fn used_values(&mut self, table: &str, column: &str) -> &mut BTreeSet<i32> {
        let shipped: Vec<i32> = self
            .schema
            .column(table, column)
            .map(|c| c.options.iter().map(|o| o.value).collect())
            .unwrap_or_default();
        let set = self
            .used
            .entry((table.to_string(), column.to_string()))
            .or_default();
        set.extend(shipped);
        set
    }

    /// The next free value in the publisher's range for a column.
    fn next_publisher_value(&mut self, table: &str, column: &str) -> i32 {
        let used = self.used_values(table, column);
        let next = used
            .iter()
            .copied()
            .filter(|v| *v >= PUBLISHER_OPTION_VALUE_BASE)
            .max()
            .map_or(PUBLISHER_OPTION_VALUE_BASE, |v| v.saturating_add(1));
        used.insert(next);
        next
    }

    /// The target columns a field's values are translated into.
    fn targets(
        &self,
        field: &InventoryField,
        fp: &FieldProposal,
        plan: &ObjectPlan,
    ) -> Vec<(String, String, bool)> {
        let mut targets: Vec<(String, String, bool)> = Vec::new();
        let mut add = |table: String, column: String, custom: bool| {
            if !targets.iter().any(|(t, c, _)| *t == table && *c == column) {
                targets.push((table, column, custom));
            }
        };
        for m in synonyms::BUILTIN.iter().filter(|m| {
            m.optionset
                && m.only.applies(self.profile)
                && m.object == field.object
                && m.field == field.field
        }) {
            add(
                with_prefix(m.table, &self.prefix),
                with_prefix(m.column, &self.prefix),
                false,
            );
        }
        for t in self
            .existing
            .iter()
            .filter(|t| t.source_object == field.object && t.source_field == field.field)
        {
            if plan.tables.contains(&t.target_table) {
                add(t.target_table.clone(), t.target_column.clone(), false);
            }
        }
        if fp.status == Status::Proposed {
            if let Some(column) = &fp.target_column {
                let choice = self
                    .schema
                    .column(&fp.target_table, column)
                    .is_some_and(|c| {
                        matches!(
                            c.column_type,
                            ColumnType::Picklist | ColumnType::Status | ColumnType::Boolean
                        )
                    });
                if choice {
                    add(fp.target_table.clone(), column.clone(), false);
                    // A status brings its state along.
                    if self
                        .schema
                        .column(&fp.target_table, column)
                        .is_some_and(|c| c.column_type == ColumnType::Status)
                        && self.schema.column(&fp.target_table, "statecode").is_some()
                    {
                        add(fp.target_table.clone(), "statecode".to_string(), false);
                    }
                }
            }
        }
        if let Some(custom) = &fp.custom_column {
            if custom.type_name == "Picklist" {
                for table in &plan.tables {
                    add(table.clone(), custom.name.clone(), true);
                }
            }
        }
        // Statuses first: a state follows from the status chosen.
        targets.sort_by_key(|(_, c, _)| c == "statecode");
        targets
    }

    fn propose_field(
        &mut self,
        field: &InventoryField,
        fp: &FieldProposal,
        plan: &ObjectPlan,
        inventory: &Inventory,
        out: &mut Vec<OptionProposal>,
    ) {
        let targets = self.targets(field, fp, plan);
        if targets.is_empty() {
            return;
        }
        let values = field_values(field, inventory, self.existing);
        if values.is_empty() {
            return;
        }
        let object = field.object.as_str();
        let name = field.field.as_str();

        // Existing values of every target column are taken before any new
        // one is numbered, so a re-run never reuses a confirmed value.
        for (table, column, _) in &targets {
            self.used_values(table, column);
        }

        let activity_tables: Vec<String> = targets
            .iter()
            .filter(|(_, c, _)| c == ACTIVITY_TYPE_COLUMN)
            .map(|(t, _, _)| t.clone())
            .collect();

        // Custom choice columns number their values alphabetically, so the
        // numbering does not depend on how often each value occurs.
        let mut alphabetical: Vec<&(String, i64, Option<bool>)> = values.iter().collect();
        alphabetical.sort_by(|a, b| a.0.cmp(&b.0));

        let mut status_choice: StatusChoices = HashMap::new();
        for (table, column, custom) in &targets {
            // The activity type is proposed once, across its tables.
            if column == ACTIVITY_TYPE_COLUMN && Some(table) != activity_tables.first() {
                continue;
            }
            let ordered: Vec<&(String, i64, Option<bool>)> = if *custom {
                alphabetical.clone()
            } else {
                values.iter().collect()
            };
            for (value, count, documented) in ordered {
                let proposal_base = OptionProposal {
                    object: object.to_string(),
                    field: name.to_string(),
                    value: value.clone(),
                    count: *count,
                    documented: *documented,
                    target_table: table.clone(),
                    target_column: column.clone(),
                    target_value: None,
                    target_label: String::new(),
                    confidence: 0.0,
                    status: Status::NeedsDecision,
                    reason: String::new(),
                    new_option: false,
                    line: None,
                };
                if column == ACTIVITY_TYPE_COLUMN {
                    self.propose_activity_type(&proposal_base, &activity_tables, out);
                    continue;
                }
                let key = (
                    object.to_string(),
                    name.to_string(),
                    value.clone(),
                    table.clone(),
                    column.clone(),
                );
                let confirmed = self.by_key.get(&key).copied();
                let p = if let Some(t) = confirmed {
                    OptionProposal {
                        target_value: Some(t.target_value),
                        target_label: t.target_label.clone(),
                        confidence: 1.0,
                        status: Status::Confirmed,
                        reason: format!("confirmed in mapping/optionsets.csv line {}", t.line),
                        line: Some(t.line),
                        ..proposal_base
                    }
                } else if *custom {
                    let v = self.next_publisher_value(table, column);
                    OptionProposal {
                        target_value: Some(v),
                        target_label: value.clone(),
                        confidence: 0.85,
                        status: Status::Proposed,
                        reason: format!("a new option of the proposed choice column {column}"),
                        new_option: true,
                        ..proposal_base
                    }
                } else if column == "statecode" {
                    self.derive_state(proposal_base, &status_choice)
                } else {
                    self.match_option(proposal_base)
                };
                let schema = self.schema;
                if schema
                    .column(table, column)
                    .is_some_and(|c| c.column_type == ColumnType::Status)
                {
                    status_choice.insert(
                        (table.clone(), value.clone()),
                        (p.target_value, p.confidence, p.status),
                    );
                }
                out.push(p);
            }
        }
    }

    /// The statecode a value gets is the state its statuscode belongs to.
    fn derive_state(
        &mut self,
        base: OptionProposal,
        status_choice: &StatusChoices,
    ) -> OptionProposal {
        let schema = self.schema;
        let table = base.target_table.clone();
        let chosen = status_choice.get(&(table.clone(), base.value.clone()));
        if let Some((Some(status), confidence, status_status)) = chosen {
            let state = schema
                .column(&table, "statuscode")
                .and_then(|c| c.option(*status))
                .and_then(|o| o.state);
            if let Some(state) = state {
                let label = schema
                    .column(&table, "statecode")
                    .and_then(|c| c.option(state))
                    .map(|o| o.label.clone())
                    .unwrap_or_default();
                return OptionProposal {
                    target_value: Some(state),
                    target_label: label,
                    confidence: if *status_status == Status::Confirmed {
                        0.95
                    } else {
                        *confidence
                    },
                    status: if *status_status == Status::NeedsDecision {
                        Status::NeedsDecision
                    } else {
                        Status::Proposed
                    },
                    reason: if *status_status == Status::NeedsDecision {
                        format!("needs a decision: follows the status, which needs one (state {state} of the suggested status {status})")
                    } else {
                        format!("the state status {status} belongs to")
                    },
                    ..base
                };
            }
        }
        self.match_option(base)
    }

    /// Matches a value against the column's options and the labels already
    /// translated into it.
    fn match_option(&mut self, base: OptionProposal) -> OptionProposal {
        let schema = self.schema;
        let table = base.target_table.clone();
        let column = base.target_column.clone();
        let scope = format!("{table}.{column}");
        let schema_column = schema.column(&table, &column);
        let mut candidates: Vec<(i32, String)> = schema_column
            .map(|c| {
                c.options
                    .iter()
                    .map(|o| (o.value, o.label.clone()))
                    .collect()
            })
            .unwrap_or_default();
        for t in self.existing {
            if t.target_table == table
                && t.target_column == column
                && !candidates.iter().any(|(v, _)| *v == t.target_value)
            {
                candidates.push((t.target_value, t.target_label.clone()));
            }
        }
        let best = candidates
            .iter()
            .map(|(v, l)| (compare_label(&base.value, l, &scope), *v, l))
            .max_by(|a, b| a.0.score().total_cmp(&b.0.score()).then(b.1.cmp(&a.1)));
        let undocumented = base.documented == Some(false);
        if let Some((m, v, label)) = best.as_ref().filter(|(m, _, _)| m.score() >= 0.7) {
            // A value ServiceTracker does not document is dirt or a local
            // invention: whatever it resembles, ferry is not sure of it.
            let doubt = if undocumented && *m != Match::Exact {
                0.5
            } else {
                1.0
            };
            let confidence = round2(m.confidence() * doubt);
            let how = match m {
                Match::Exact => "the same label".to_string(),
                Match::ScopedSynonym | Match::Synonym => {
                    format!("“{}” usually means “{label}”", base.value)
                }
                Match::Similar(_) => "a similar label".to_string(),
            };
            let decide = confidence < DECISION_THRESHOLD || (undocumented && *m != Match::Exact);
            let reason = if decide && undocumented {
                format!(
                    "needs a decision: “{}” is not a documented value; nearest option {label} ({v}), {how}",
                    base.value
                )
            } else if decide {
                format!("needs a decision: nearest option {label} ({v}), {how}")
            } else {
                format!("{how}: {label} ({v})")
            };
            return OptionProposal {
                target_value: Some(*v),
                target_label: label.to_string(),
                confidence,
                status: if decide {
                    Status::NeedsDecision
                } else {
                    Status::Proposed
                },
                reason,
                ..base
            };
        }
        let is_picklist = schema_column.is_some_and(|c| c.column_type == ColumnType::Picklist);
        if base.documented == Some(true) && is_picklist && is_tier(&base.value) {
            let v = self.next_publisher_value(&table, &column);
            return OptionProposal {
                target_value: Some(v),
                target_label: base.value.clone(),
                confidence: 0.7,
                status: Status::Proposed,
                reason: format!(
                    "a documented tier {scope} has no option for: a new option {v} in the publisher range, inserted by `ferry plan --apply`"
                ),
                new_option: true,
                ..base
            };
        }
        let nearest = best
            .filter(|(m, _, _)| m.score() >= 0.3)
            .map(|(_, v, l)| format!("; nearest: {l} ({v})"))
            .unwrap_or_default();
        let choice = schema_column.is_none_or(|c| !c.options.is_empty() || is_picklist);
        let reason = if !choice {
            format!(
                "needs a decision: {scope} takes a {}, not an option: write the value “{}” should get into mapping/optionsets.csv",
                schema_column.map_or("value", |c| c.column_type.as_str()),
                base.value
            )
        } else if candidates.is_empty() {
            format!(
                "needs a decision: {scope} has no options to match “{}” against; add a translation to mapping/optionsets.csv",
                base.value
            )
        } else {
            format!(
                "needs a decision: no option of {scope} resembles “{}”{nearest}; map it to an option{}",
                base.value,
                if is_picklist {
                    format!(", or add one in the publisher range (from {PUBLISHER_OPTION_VALUE_BASE})")
                } else {
                    String::new()
                }
            )
        };
        OptionProposal { reason, ..base }
    }

    /// An activity type picks the activity table: one proposal, on the
    /// table whose type it names.
    fn propose_activity_type(
        &mut self,
        base: &OptionProposal,
        tables: &[String],
        out: &mut Vec<OptionProposal>,
    ) {
        let confirmed: Vec<&OptionTranslation> = tables
            .iter()
            .filter_map(|t| {
                self.by_key
                    .get(&(
                        base.object.clone(),
                        base.field.clone(),
                        base.value.clone(),
                        t.clone(),
                        ACTIVITY_TYPE_COLUMN.to_string(),
                    ))
                    .copied()
            })
            .collect();
        if !confirmed.is_empty() {
            for t in confirmed {
                out.push(OptionProposal {
                    target_table: t.target_table.clone(),
                    target_value: Some(t.target_value),
                    target_label: t.target_label.clone(),
                    confidence: 1.0,
                    status: Status::Confirmed,
                    reason: format!("confirmed in mapping/optionsets.csv line {}", t.line),
                    line: Some(t.line),
                    ..base.clone()
                });
            }
            return;
        }
        let best = synonyms::ACTIVITY_TYPES
            .iter()
            .filter(|(t, _, _)| tables.iter().any(|x| x.as_str() == *t))
            .map(|(t, code, label)| {
                (
                    compare_label(&base.value, label, &format!("{t}.{ACTIVITY_TYPE_COLUMN}")),
                    *t,
                    *code,
                    *label,
                )
            })
            .max_by(|a, b| a.0.score().total_cmp(&b.0.score()).then(b.2.cmp(&a.2)));
        match best.filter(|b| b.0.score() >= 0.7) {
            Some((m, table, code, label)) => {
                let doubt = if base.documented == Some(false) && m != Match::Exact { 0.5 } else { 1.0 };
                let confidence = round2(m.confidence() * doubt);
                let decide = confidence < DECISION_THRESHOLD
                    || (base.documented == Some(false) && m != Match::Exact);
                out.push(OptionProposal {
                    target_table: table.to_string(),
                    target_value: Some(code),
                    target_label: label.to_string(),
                    confidence,
                    status: if decide { Status::NeedsDecision } else { Status::Proposed },
                    reason: format!("“{}” is a {label}: the activity becomes a {table} row", base.value),
                    ..base.clone()
                });
            }
            None => out.push(OptionProposal {
                reason: format!(
                    "needs a decision: “{}” names none of the activity tables ({}); until it is mapped, such activities are excluded (unmapped_activity_type)",
                    base.value,
                    tables.join(", ")
                ),
                ..base.clone()
            }),
        }
    }
}

/// A field's values, trimmed and merged, with the values already translated
/// in `mapping/optionsets.csv` that no current record holds: documented
/// values in their documented order first, then by frequency.
fn field_values(
    field: &InventoryField,
    inventory: &Inventory,
    existing: &[OptionTranslation],
) -> Vec<(String, i64, Option<bool>)> {
    let mut merged: BTreeMap<String, (i64, Option<bool>)> = BTreeMap::new();
    for v in inventory
        .values
        .iter()
        .filter(|v| v.object == field.object && v.field == field.field)
    {
        let value = v.value.trim();
        // Multi-line values cannot be a line of optionsets.csv; the
        // unmapped-values check still reports their records.
        if value.is_empty() || value.contains(['\n', '\r']) {
            continue;
        }
        let entry = merged.entry(value.to_string()).or_insert((0, v.documented));
        entry.0 += v.count;
        if v.documented == Some(true) {
            entry.1 = Some(true);
        }
    }
    for t in existing
        .iter()
        .filter(|t| t.source_object == field.object && t.source_field == field.field)
    {
        let documented = if field.documented_values.is_empty() {
            None
        } else {
            Some(field.documented_values.contains(&t.source_value))
        };
        merged
            .entry(t.source_value.clone())
            .or_insert((0, documented));
    }
    let position = |v: &str| {
        field
            .documented_values
            .iter()
            .position(|d| d == v)
            .unwrap_or(usize::MAX)
    };
    let mut out: Vec<(String, i64, Option<bool>)> = merged
        .into_iter()
        .map(|(v, (count, documented))| (v, count, documented))
        .collect();
    out.sort_by(|a, b| {
        position(&a.0)
            .cmp(&position(&b.0))
            .then(b.1.cmp(&a.1))
            .then(a.0.cmp(&b.0))
    });
    out
}

// ---------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------

/// One CSV record as text (RFC 4180 quoting), without the line end.
fn csv_line(fields: &[&str]) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    writer
        .write_record(fields)
        .expect("writing to memory cannot fail");
    let bytes = writer.into_inner().expect("writing to memory cannot fail");
    String::from_utf8(bytes)
        .expect("the fields were UTF-8")
        .trim_end_matches('\n')
        .to_string()
}

/// Text safe for one comment line: no line breaks or control characters.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Appends the new translations of `proposal` to `mapping/optionsets.csv`
/// and returns how many translations it wrote.
///
/// Confirmed lines are never rewritten. Each proposed translation is
/// preceded by a `# proposed …` comment with its confidence and reason, so
/// an analyst sees what ferry added (the label stays the option's own, as
/// `ferry plan` inserts it). Values that need a decision are written
/// commented out, with ferry's suggestion filled in where it has one: they
/// take effect only when a person removes the `#`. A translation whose line
/// is already in the file (commented or not) is not written again, so
/// re-running adds nothing twice.
pub fn write_optionsets(
    path: &Path,
    proposal: &Proposal,
    existing: &[OptionTranslation],
) -> Result<usize> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let present: BTreeSet<String> = text
        .lines()
        .map(|l| l.trim().trim_start_matches('#').trim().to_string())
        .collect();
    let confirmed: BTreeSet<TranslationKey> = existing
        .iter()
        .map(|t| {
            (
                t.source_object.clone(),
                t.source_field.clone(),
                t.source_value.clone(),
                t.target_table.clone(),
                t.target_column.clone(),
            )
        })
        .collect();
    let mut block = String::new();
    let mut last_note = String::new();
    let mut written = 0;
    let mut proposed = 0;
    let mut undecided = 0;
    for o in &proposal.options {
        if o.status == Status::Confirmed {
            continue;
        }
        let key = (
            o.object.clone(),
            o.field.clone(),
            o.value.clone(),
            o.target_table.clone(),
            o.target_column.clone(),
        );
        if confirmed.contains(&key) {
            continue;
        }
        let value = o.target_value.map(|v| v.to_string()).unwrap_or_default();
        let line = csv_line(&[
            &o.object,
            &o.field,
            &o.value,
            &o.target_table,
            &o.target_column,
            &value,
            &o.target_label,
        ]);
        if present.contains(line.trim()) {
            continue;
        }
        let reason = one_line(o.reason.trim_start_matches("needs a decision: "));
        let (note, data) = if o.status == Status::NeedsDecision {
            undecided += 1;
            (
                format!(
                    "# needs a decision (confidence {:.2}): {reason}",
                    o.confidence
                ),
                format!("#{line}"),
            )
        } else {
            proposed += 1;
            (
                format!("# proposed (confidence {:.2}): {reason}", o.confidence),
                line,
            )
        };
        // One note for a run of lines with the same reason (the values of
        // a new choice column), not one per line.
        if note != last_note {
            block.push_str(&note);
            block.push('\n');
            last_note = note;
        }
        block.push_str(&data);
        block.push('\n');
        written += 1;
    }
    if written == 0 {
        return Ok(0);
    }
    let mut out = text;
    if out.is_empty() {
        out.push_str("source_object,source_field,source_value,target_table,target_column,target_value,target_label\n");
    } else if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!(
        "# --- `ferry map propose`: {proposed} proposed translation(s), {undecided} needing a decision (commented out). \
         Review each, remove the `# proposed` notes you accept, fill in and uncomment the decisions, then run `ferry map confirm`. ---\n"
    ));
    out.push_str(&block);
    write_atomically(path, &out)?;
    Ok(written)
}

/// Writes a file through a temporary sibling and a rename, so a crash never
/// leaves half a mapping file.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp-propose");
    std::fs::write(&tmp, text).at(&tmp)?;
    std::fs::rename(tmp, path).at(path)
}

/// Writes one new versioned transform per object that has custom columns
/// (or is a custom table) into `dir` — `V<version>__custom_<object>.sql`,
/// numbered from `next_version` past any version already used — and returns
/// the files written. An object that already has a `custom_<object>` file
/// (any version) is skipped, so an analyst's edits are never overwritten.
pub fn write_custom_transforms(
    dir: &Path,
    proposal: &Proposal,
    next_version: u32,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).at(dir)?;
    let mut versions: BTreeSet<u32> = BTreeSet::new();
    let mut names: BTreeSet<String> = BTreeSet::new();
    for entry in std::fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        if let Some((version, name)) =
            crate::transform::files::parse_name(&entry.file_name().to_string_lossy())
        {
            versions.insert(version);
            names.insert(name);
        }
    }
    let mut written = Vec::new();
    let mut version = next_version;
    for object in &proposal.objects {
        let columns: Vec<(&FieldProposal, &CustomColumn)> = object
            .fields
            .iter()
            .filter_map(|f| f.custom_column.as_ref().map(|c| (f, c)))
            .collect();
        if columns.is_empty() && !object.custom_table {
            continue;
        }
        let name = format!("custom_{}", file_stem(&object.object));
        if names.contains(&name) {
            continue;
        }
        while versions.contains(&version) {
            version += 1;
        }
        let text = custom_transform_sql(object, &columns, proposal, version);
        let path = dir.join(format!("V{version:03}__{name}.sql"));
        // create_new: never replace a file, even one that appeared meanwhile.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .at(&path)?;
        file.write_all(text.as_bytes()).at(&path)?;
        versions.insert(version);
        names.insert(name);
        written.push(path);
    }
    Ok(written)
}

/// An object name usable in a transform file name (`[A-Za-z0-9_-]`).
fn file_stem(object: &str) -> String {
    let stem: String = object
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.trim_matches('_').is_empty() {
        "object".to_string()
    } else {
        stem
    }
}

/// The column name with the workspace prefix written as the `{{prefix}}`
/// placeholder every transform uses.
fn placeholder_name(name: &str, prefix: &str) -> String {
    match name.strip_prefix(&format!("{prefix}_")) {
        Some(rest) => format!("{{{{prefix}}}}_{rest}"),
        None => name.to_string(),
    }
}

/// The SQL expression that turns the raw value into the column's type.
fn cast_sql(raw: &str, column: &CustomColumn, choice_alias: &str) -> String {
    match column.column_type() {
        ColumnType::String | ColumnType::Memo => format!("map.clean_text({raw})"),
        ColumnType::Picklist => format!("{choice_alias}.target_value::INTEGER"),
        ColumnType::Boolean => format!("CAST({raw} AS BOOLEAN)"),
        _ => format!("CAST({raw} AS {})", column.to_column().duckdb_type()),
    }
}

/// Appends the custom columns to a SELECT list and returns the joins that
/// translate choice values through `map.optionset`.
fn select_custom(
    sql: &mut String,
    columns: &[(&FieldProposal, &CustomColumn)],
    prefix: &str,
    object: &str,
    table: &str,
) -> Vec<String> {
    let mut joins = Vec::new();
    for (i, (field, column)) in columns.iter().enumerate() {
        let alias = format!("choice_{}", i + 1);
        let raw = format!("r.{}", quote_ident(&field.field));
        sql.push_str(&format!(
            ",\n    {} AS {}",
            cast_sql(&raw, column, &alias),
            quote_ident(&placeholder_name(&column.name, prefix))
        ));
        if column.type_name == "Picklist" {
            // Names, not data: the object, field, table and column the
            // translation belongs to, as mapping/optionsets.csv names them.
            joins.push(format!(
                "LEFT JOIN (\n    SELECT source_value, max(target_value) AS target_value\n    FROM map.optionset\n    \
                 WHERE source_object = {} AND source_field = {}\n      AND target_table = {} AND target_column = {}\n    \
                 GROUP BY source_value\n) AS {alias} ON {alias}.source_value = map.clean_text({raw})",
                constant_literal(object),
                constant_literal(&field.field),
                constant_literal(table),
                constant_literal(&column.name),
            ));
        }
    }
    joins
}

fn custom_transform_sql(
    object: &ObjectProposal,
    columns: &[(&FieldProposal, &CustomColumn)],
    proposal: &Proposal,
    version: u32,
) -> String {
    let prefix = &proposal.prefix;
    let raw_table = qualified("raw", &format!("{}_current", object.object));
    let mut sql = String::new();
    let tables = object.target_tables.join(", ");
    sql.push_str(&format!(
        "-- V{version:03} — custom columns of ServiceTracker {} on stg.{tables}, proposed by `ferry map propose`.\n",
        one_line(&object.object),
    ));
    sql.push_str("--\n-- Why: these source fields have no standard Dataverse column (see\n");
    sql.push_str("-- reports/mapping-proposal.html), so each gets a custom column that\n");
    sql.push_str("-- `ferry plan --apply` creates:\n");
    for (field, column) in columns {
        let size = match (column.max_length, column.precision) {
            (Some(l), _) => format!("({l})"),
            (None, Some(p)) => format!(", {p} decimal places"),
            _ => String::new(),
        };
        let extra = if column.type_name == "Picklist" {
            " — values translated through mapping/optionsets.csv"
        } else if column.behavior.as_deref() == Some("DateOnly") {
            " — date only"
        } else {
            ""
        };
        sql.push_str(&format!(
            "--   {} → {} {}{size}{extra}\n",
            one_line(&field.field),
            column.name,
            column.type_name
        ));
    }
    sql.push_str("-- This file is yours to review and edit (names, types, casts): `ferry map\n");
    sql.push_str("-- propose` never overwrites it. Every row is kept: the raw record is\n");
    sql.push_str("-- joined by its id (LEFT JOIN), so no row can be lost here.\n");

    if object.custom_table {
        let table = object.target_tables.first().cloned().unwrap_or_default();
        let table_ph = placeholder_name(&table, prefix);
        let has_id = object.fields.iter().any(|f| f.field == "id");
        let has_created = object.fields.iter().any(|f| f.field == "created_at");
        if !has_id {
            sql.push_str(&format!(
                "--\n-- {} has no `id` field, so its records cannot be keyed: write this\n-- transform by hand.\n",
                one_line(&object.object)
            ));
            return sql;
        }
        sql.push_str(&format!(
            "\nCREATE OR REPLACE TABLE stg.{} AS\nSELECT\n    map.record_guid({}, r.id) AS {},\n    r.id AS {},\n    {} AS _source_object,\n    r.id AS {}",
            quote_ident(&table_ph),
            constant_literal(&table_ph),
            quote_ident(&format!("{table_ph}id")),
            quote_ident("{{prefix}}_record_id"),
            constant_literal(&object.object),
            quote_ident("{{prefix}}_name"),
        ));
        if has_created {
            sql.push_str(",\n    r.created_at AS overriddencreatedon");
        }
        let joins = select_custom(&mut sql, columns, prefix, &object.object, &table);
        sql.push_str(&format!("\nFROM {raw_table} AS r"));
        for join in joins {
            sql.push('\n');
            sql.push_str(&join);
        }
        sql.push_str(";\n");
        return sql;
    }

    for table in &object.target_tables {
        let table_ph = placeholder_name(table, prefix);
        sql.push_str(&format!(
            "\nCREATE OR REPLACE TABLE stg.{} AS\nSELECT\n    t.*",
            quote_ident(&table_ph)
        ));
        let joins = select_custom(&mut sql, columns, prefix, &object.object, table);
        sql.push_str(&format!(
            "\nFROM stg.{} AS t\nLEFT JOIN {raw_table} AS r ON r.id = t.{}",
            quote_ident(&table_ph),
            quote_ident("{{prefix}}_record_id")
        ));
        for join in joins {
            sql.push('\n');
            sql.push_str(&join);
        }
        sql.push_str(";\n");
    }
    sql
}

/// The proposal as a self-contained HTML page (inline CSS, no scripts),
/// every value escaped by the template engine; the workspace's own
/// `templates/` override the built-in ones, as for every report.
pub fn render_html(proposal: &Proposal, workspace_root: &std::path::Path) -> String {
    crate::templates::Templates::for_workspace(workspace_root)
        .and_then(|templates| templates.render(TEMPLATE_NAME, context(proposal)))
        .unwrap_or_else(|e| {
            // Should a template ever fail, the page still says so instead of
            // the command crashing.
            format!(
                "<!DOCTYPE html><html><body><p>The mapping proposal could not be rendered: {}</p></body></html>",
                escape_html(&e.to_string())
            )
        })
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[derive(Serialize)]
struct ObjectView<'a> {
    object: &'a ObjectProposal,
    options: Vec<&'a OptionProposal>,
    custom: Vec<&'a FieldProposal>,
    counts: BTreeMap<&'static str, usize>,
}

fn context(proposal: &Proposal) -> minijinja::Value {
    let objects: Vec<ObjectView> = proposal
        .objects
        .iter()
        .map(|o| {
            let mut counts: BTreeMap<&'static str, usize> = [
                Status::Confirmed,
                Status::Proposed,
                Status::Custom,
                Status::NeedsDecision,
            ]
            .iter()
            .map(|s| (s.as_str(), 0))
            .collect();
            for f in &o.fields {
                *counts.entry(f.status.as_str()).or_insert(0) += 1;
            }
            ObjectView {
                object: o,
                options: proposal
                    .options
                    .iter()
                    .filter(|p| p.object == o.object)
                    .collect(),
                custom: o
                    .fields
                    .iter()
                    .filter(|f| f.custom_column.is_some())
                    .collect(),
                counts,
            }
        })
        .collect();
    let (field_counts, option_counts) = proposal.counts();
    let count = |m: &BTreeMap<Status, usize>, s: Status| m.get(&s).copied().unwrap_or(0);
    let decisions_fields: Vec<&FieldProposal> = proposal
        .fields()
        .filter(|f| f.status == Status::NeedsDecision)
        .collect();
    let decisions_options: Vec<&OptionProposal> = proposal
        .options
        .iter()
        .filter(|o| o.status == Status::NeedsDecision)
        .collect();
    let new_options: Vec<&OptionProposal> = proposal
        .options
        .iter()
        .filter(|o| o.new_option && o.status != Status::Confirmed)
        .collect();
    minijinja::context! {
        header => minijinja::context! {
            report => "Mapping proposal",
            workspace => proposal.workspace.clone(),
            generated_at => chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            ferry_version => env!("CARGO_PKG_VERSION"),
            sql_file => "meta.inventory_* and the target schema",
        },
        proposal => proposal,
        objects => objects,
        totals => minijinja::context! {
            fields => proposal.fields().count(),
            confirmed => count(&field_counts, Status::Confirmed),
            proposed => count(&field_counts, Status::Proposed),
            custom => count(&field_counts, Status::Custom),
            field_decisions => count(&field_counts, Status::NeedsDecision),
            options => proposal.options.len(),
            options_confirmed => count(&option_counts, Status::Confirmed),
            options_proposed => count(&option_counts, Status::Proposed),
            option_decisions => count(&option_counts, Status::NeedsDecision),
        },
        decisions_fields => decisions_fields,
        decisions_options => decisions_options,
        new_options => new_options,
    }
}
