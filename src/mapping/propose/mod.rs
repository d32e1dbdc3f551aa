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

mod custom;
mod inventory;
mod objects;
mod optionsets;
mod picklists;
mod report;
mod scoring;
mod sql;

use custom::*;
pub use inventory::{read_inventory, Inventory, InventoryField, InventoryValue};
use objects::*;
pub use optionsets::write_optionsets;
use optionsets::*;
use picklists::*;
pub use report::render_html;
use scoring::*;
pub use sql::write_custom_transforms;

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
    best_first(&mut pairs);
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
