//! What `ferry push` sends, in which order: one step per staged table,
//! parents before children, plus the passes Dataverse needs beyond plain
//! rows (SPEC §6 Order, §9): lookups deferred to break a cycle, states a
//! table cannot take on create, and N:N links.
//!
//! The order is derived from the data, not written down: every lookup in
//! `stg.*` is a `<column>` GUID beside a `<column>_table` naming its target,
//! so the tables a table points at are read from `stg` itself and a
//! transform an analyst adds is ordered without telling ferry.

use std::collections::{BTreeMap, BTreeSet};

use duckdb::Connection;
use serde::Serialize;

use crate::dataverse::schema::{Column, ColumnType, Schema};
use crate::error::{Error, Result};
use crate::stage::db::{qualified, quote_ident};

/// How a staged value goes on the wire and is compared with what the
/// target holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Kind {
    Text,
    Integer,
    Number,
    Boolean,
    /// An instant, sent as ISO 8601 UTC to the second.
    DateTime,
    /// A calendar date (`DateOnly` behaviour, or a DuckDB DATE).
    DateOnly,
    /// A lookup: GUID in `<column>`, target table in `<column>_table`.
    Lookup,
}

/// One staged column the loader sends.
#[derive(Debug, Clone, Serialize)]
pub struct SentColumn {
    pub name: String,
    pub kind: Kind,
    /// `IsValidForCreate` / `IsValidForUpdate` (unknown = true).
    pub on_create: bool,
    pub on_update: bool,
    /// Multi-target lookups bind as `<column>_<target>`; single-target ones
    /// and owners as `<column>` (SPEC §9, emulator DESIGN.md).
    pub multi_target: bool,
    /// Decimal places the target keeps (numbers compare at this precision).
    pub precision: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Create or update the table's rows (every column but deferred ones).
    Records,
    /// Set lookups left out of `Records` to break a cycle.
    Deferred,
    /// Set `statecode`/`statuscode` after create where the table does not
    /// take them on create (a resolved case goes through `CloseIncident`).
    State,
    /// Link the pairs of an N:N intersect table through `$ref`.
    Associate,
}

/// One unit of a push. Steps run strictly in order.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub kind: StepKind,
    /// The staged table (`stg.<table>`), also the target table except for
    /// `Associate`, where it is the relationship's name.
    pub table: String,
    pub primary_id: String,
    pub entity_set: String,
    /// Columns this step sends and compares.
    pub columns: Vec<SentColumn>,
    /// For `Associate`: the two sides (table, id column, entity set).
    pub sides: Option<[(String, String, String); 2]>,
    /// The staged rows name their owner (`_owner_email`) and the target
    /// takes `ownerid` on create.
    pub owner: bool,
    /// Required lookups to org records the staged rows do not carry
    /// (`contract.transactioncurrencyid`, `contracttemplateid`): column →
    /// target table, resolved at preflight (SPEC §9 contract).
    pub org_refs: Vec<(String, String)>,
}

impl Step {
    /// `account`, `account (deferred lookups)`, …: how summaries name it.
    pub fn label(&self) -> String {
        match self.kind {
            StepKind::Records => self.table.clone(),
            StepKind::Deferred => format!("{} (deferred lookups)", self.table),
            StepKind::State => format!("{} (state)", self.table),
            StepKind::Associate => format!("{} (N:N)", self.table),
        }
    }

    pub fn key(&self) -> &'static str {
        match self.kind {
            StepKind::Records => "records",
            StepKind::Deferred => "deferred",
            StepKind::State => "state",
            StepKind::Associate => "associate",
        }
    }
}

/// Tables that are not loaded as records of their own.
/// `activityparty` rows travel inside their activity
/// (`<activity>_activity_parties`, SPEC §9 activities).
pub const INLINE_TABLES: &[&str] = &["activityparty"];

/// The staged tables, their lookups and the order to load them in.
pub fn plan_steps(conn: &Connection, schema: &Schema) -> Result<Vec<Step>> {
    let columns = staged_columns(conn)?;
    let relationships: BTreeMap<String, (String, String)> = schema
        .many_to_many()
        .iter()
        .map(|m| (m.name.clone(), (m.table1.clone(), m.table2.clone())))
        .collect();
    let mut record_tables: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (table, cols) in &columns {
        if INLINE_TABLES.contains(&table.as_str()) || relationships.contains_key(table) {
            continue;
        }
        if schema.table(table).is_none() {
            return Err(Error::Usage(format!(
                "stg.{table} has no table of that name in the target's metadata; create it with `ferry plan --apply`, or rename the transform's output to a Dataverse table"
            )));
        }
        record_tables.insert(table.clone(), cols.clone());
    }
    // Edges: table → the tables its lookups point at (read from the data).
    let mut edges: BTreeMap<String, Vec<(String, String, bool)>> = BTreeMap::new();
    for (table, cols) in &record_tables {
        let names: BTreeSet<&str> = cols.iter().map(|(c, _)| c.as_str()).collect();
        for (column, _) in cols {
            if !names.contains(format!("{column}_table").as_str()) {
                continue;
            }
            let required = schema
                .column(table, column)
                .is_some_and(|c| c.required_level_is_application());
            for target in lookup_targets(conn, table, column)? {
                if target != *table {
                    edges.entry(table.clone()).or_default().push((
                        column.clone(),
                        target,
                        required,
                    ));
                }
            }
        }
    }
    let (order, deferred) = order_tables(&record_tables, &edges)?;
    let mut steps = Vec::new();
    for table in &order {
        let def = schema.table(table).expect("checked above");
        let cols = &record_tables[table];
        let deferred_here: BTreeSet<&str> = deferred
            .iter()
            .filter(|(t, _)| t == table)
            .map(|(_, c)| c.as_str())
            .collect();
        let sent = sent_columns(schema, table, cols);
        let state_after_create = sent.iter().any(|c| c.name == "statecode" && !c.on_create);
        let records: Vec<SentColumn> = sent
            .iter()
            .filter(|c| !deferred_here.contains(c.name.as_str()))
            // The state step sets both: a create may only carry a status of
            // the default state.
            .filter(|c| !(state_after_create && (c.name == "statecode" || c.name == "statuscode")))
            .cloned()
            .collect();
        steps.push(Step {
            kind: StepKind::Records,
            table: table.clone(),
            primary_id: def.primary_id.clone(),
            entity_set: def.entity_set_name.clone(),
            columns: records,
            sides: None,
            owner: cols.iter().any(|(c, _)| c == "_owner_email")
                && def
                    .column("ownerid")
                    .is_some_and(|c| c.valid_for_create != Some(false)),
            org_refs: org_refs(def, cols),
        });
        if state_after_create {
            steps.push(Step {
                kind: StepKind::State,
                table: table.clone(),
                primary_id: def.primary_id.clone(),
                entity_set: def.entity_set_name.clone(),
                columns: sent
                    .iter()
                    .filter(|c| c.name == "statecode" || c.name == "statuscode")
                    .cloned()
                    .collect(),
                sides: None,
                owner: false,
                org_refs: Vec::new(),
            });
        }
    }
    // Deferred lookups once every table exists.
    for table in &order {
        let cols: Vec<SentColumn> = sent_columns(schema, table, &record_tables[table])
            .into_iter()
            .filter(|c| deferred.contains(&(table.clone(), c.name.clone())))
            .collect();
        if cols.is_empty() {
            continue;
        }
        let def = schema.table(table).expect("checked above");
        steps.push(Step {
            kind: StepKind::Deferred,
            table: table.clone(),
            primary_id: def.primary_id.clone(),
            entity_set: def.entity_set_name.clone(),
            columns: cols,
            sides: None,
            owner: false,
            org_refs: Vec::new(),
        });
    }
    for (name, (table1, table2)) in &relationships {
        if !columns.contains_key(name) {
            continue;
        }
        let side = |t: &str| -> Result<(String, String, String)> {
            let def = schema.table(t).ok_or_else(|| {
                Error::Usage(format!(
                    "the N:N relationship {name} joins {t}, which the target does not have"
                ))
            })?;
            Ok((
                t.to_string(),
                def.primary_id.clone(),
                def.entity_set_name.clone(),
            ))
        };
        steps.push(Step {
            kind: StepKind::Associate,
            table: name.clone(),
            primary_id: String::new(),
            entity_set: String::new(),
            columns: Vec::new(),
            sides: Some([side(table1)?, side(table2)?]),
            owner: false,
            org_refs: Vec::new(),
        });
    }
    Ok(steps)
}

/// Required lookups of `def` to records every org has (a currency, a
/// contract template) that `stg` does not fill: the loader binds them to
/// the org's records.
fn org_refs(
    def: &crate::dataverse::schema::Table,
    cols: &[(String, String)],
) -> Vec<(String, String)> {
    def.columns
        .iter()
        .filter(|c| c.is_lookup() && c.column_type != ColumnType::Owner && c.is_required())
        .filter(|c| c.valid_for_create != Some(false))
        .filter(|c| !cols.iter().any(|(name, _)| *name == c.name))
        .filter_map(|c| match c.targets.as_slice() {
            [target] if ORG_RECORD_TABLES.contains(&target.as_str()) => {
                Some((c.name.clone(), target.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Tables whose records belong to the org rather than to the migration.
pub const ORG_RECORD_TABLES: &[&str] = &["transactioncurrency", "contracttemplate"];

impl Column {
    fn required_level_is_application(&self) -> bool {
        matches!(
            self.required_level,
            crate::dataverse::schema::RequiredLevel::ApplicationRequired
        )
    }
}

/// Every `stg` table with its columns (name, DuckDB type), in column order.
pub fn staged_columns(conn: &Connection) -> Result<BTreeMap<String, Vec<(String, String)>>> {
    let mut stmt = conn.prepare(
        "SELECT table_name, column_name, data_type FROM duckdb_columns()
         WHERE schema_name = 'stg' AND database_name = current_database()
         ORDER BY table_name, column_index",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for row in rows {
        let (t, c, d) = row?;
        out.entry(t).or_default().push((c, d));
    }
    Ok(out)
}

fn lookup_targets(conn: &Connection, table: &str, column: &str) -> Result<Vec<String>> {
    let sql = format!(
        "SELECT DISTINCT {t} FROM {tab} WHERE {c} IS NOT NULL AND {t} IS NOT NULL ORDER BY 1",
        t = quote_ident(&format!("{column}_table")),
        c = quote_ident(column),
        tab = qualified("stg", table)
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// The columns of `stg.<table>` the loader sends: not ferry's `_` columns,
/// not a lookup's `_table` partner, not the primary id (it addresses the
/// record), typed by the target's definition where it has one.
pub fn sent_columns(schema: &Schema, table: &str, cols: &[(String, String)]) -> Vec<SentColumn> {
    let names: BTreeSet<&str> = cols.iter().map(|(c, _)| c.as_str()).collect();
    let primary = schema
        .table(table)
        .map(|t| t.primary_id.clone())
        .unwrap_or_default();
    cols.iter()
        .filter(|(c, _)| !c.starts_with('_') && *c != primary)
        .filter(|(c, _)| {
            !c.strip_suffix("_table")
                .is_some_and(|base| names.contains(base))
        })
        .map(|(name, duck_type)| {
            let def = schema.column(table, name);
            let is_lookup_pair = names.contains(format!("{name}_table").as_str());
            let kind = match def {
                _ if is_lookup_pair => Kind::Lookup,
                Some(c) => kind_of_column(c, duck_type),
                None => kind_of_duckdb(duck_type),
            };
            SentColumn {
                name: name.clone(),
                kind,
                on_create: def.and_then(|c| c.valid_for_create).unwrap_or(true),
                on_update: def.and_then(|c| c.valid_for_update).unwrap_or(true),
                multi_target: def
                    .is_some_and(|c| c.column_type != ColumnType::Owner && c.targets.len() > 1),
                precision: def.and_then(|c| c.precision),
            }
        })
        .collect()
}

fn kind_of_column(c: &Column, duck_type: &str) -> Kind {
    match c.column_type {
        ColumnType::Integer
        | ColumnType::BigInt
        | ColumnType::Picklist
        | ColumnType::State
        | ColumnType::Status => Kind::Integer,
        ColumnType::Money | ColumnType::Decimal | ColumnType::Double => Kind::Number,
        ColumnType::Boolean => Kind::Boolean,
        ColumnType::DateTime if c.is_date_only() || duck_type == "DATE" => Kind::DateOnly,
        ColumnType::DateTime => Kind::DateTime,
        ColumnType::Lookup | ColumnType::Customer | ColumnType::Owner => Kind::Lookup,
        _ => Kind::Text,
    }
}

fn kind_of_duckdb(duck_type: &str) -> Kind {
    match duck_type {
        "INTEGER" | "BIGINT" | "SMALLINT" | "TINYINT" | "HUGEINT" => Kind::Integer,
        "DOUBLE" | "FLOAT" => Kind::Number,
        t if t.starts_with("DECIMAL") => Kind::Number,
        "BOOLEAN" => Kind::Boolean,
        "DATE" => Kind::DateOnly,
        t if t.starts_with("TIMESTAMP") => Kind::DateTime,
        _ => Kind::Text,
    }
}

/// Topological order of the tables, parents first. A cycle is broken by
/// deferring one of its lookups that the target does not require on create
/// (account.primarycontactid ↔ contact.parentcustomerid, SPEC §6 Order).
#[allow(clippy::type_complexity)]
fn order_tables(
    tables: &BTreeMap<String, Vec<(String, String)>>,
    edges: &BTreeMap<String, Vec<(String, String, bool)>>,
) -> Result<(Vec<String>, BTreeSet<(String, String)>)> {
    let mut deferred: BTreeSet<(String, String)> = BTreeSet::new();
    loop {
        let active = |t: &str| -> Vec<(String, String, bool)> {
            edges
                .get(t)
                .map(|e| {
                    e.iter()
                        .filter(|(c, target, _)| {
                            tables.contains_key(target)
                                && !deferred.contains(&(t.to_string(), c.clone()))
                        })
                        .cloned()
                        .collect()
                })
                .unwrap_or_default()
        };
        // Kahn's algorithm, alphabetical among ready tables so the order is
        // the same on every run.
        let mut done: Vec<String> = Vec::new();
        let mut left: BTreeSet<String> = tables.keys().cloned().collect();
        loop {
            let ready: Vec<String> = left
                .iter()
                .filter(|t| active(t).iter().all(|(_, target, _)| done.contains(target)))
                .cloned()
                .collect();
            if ready.is_empty() {
                break;
            }
            for t in ready {
                left.remove(&t);
                done.push(t);
            }
        }
        if left.is_empty() {
            return Ok((done, deferred));
        }
        // A cycle among `left`: defer an optional lookup between them.
        let candidate = left.iter().find_map(|t| {
            active(t)
                .into_iter()
                .find(|(_, target, required)| left.contains(target) && !required)
                .map(|(c, _, _)| (t.clone(), c))
        });
        match candidate {
            Some(edge) => {
                deferred.insert(edge);
            }
            None => {
                return Err(Error::Usage(format!(
                    "the staged tables {} point at each other through required lookups only; no load order exists — make one of those lookups optional in the transform",
                    left.into_iter().collect::<Vec<_>>().join(", ")
                )))
            }
        }
    }
}

/// The Web API entity set of a table ferry has no definition of:
/// Dataverse's plural of the logical name (`transactioncurrency` →
/// `transactioncurrencies`, `contracttemplate` → `contracttemplates`).
pub fn default_entity_set(table: &str) -> String {
    match table.strip_suffix('y') {
        Some(stem) if !stem.ends_with(['a', 'e', 'o', 'u']) => format!("{stem}ies"),
        _ if table.ends_with('s') || table.ends_with('x') => format!("{table}es"),
        _ => format!("{table}s"),
    }
}

/// The SQL filter a step reads its rows with.
pub fn step_filter(step: &Step, duck_types: &BTreeMap<String, String>) -> Option<String> {
    match step.kind {
        StepKind::Records if duck_types.contains_key("_is_base_unit") => {
            Some("NOT coalesce(t._is_base_unit, false)".into())
        }
        StepKind::Deferred => Some(format!(
            "({})",
            step.columns
                .iter()
                .map(|c| format!("t.{} IS NOT NULL", quote_ident(&c.name)))
                .collect::<Vec<_>>()
                .join(" OR ")
        )),
        // Only rows whose state is not what a create leaves: state 0 with
        // status 1 is the default of every table ferry loads.
        StepKind::State => {
            Some("(coalesce(t.statecode, 0) <> 0 OR coalesce(t.statuscode, 1) <> 1)".into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(names: &[&str]) -> BTreeMap<String, Vec<(String, String)>> {
        names.iter().map(|n| (n.to_string(), Vec::new())).collect()
    }

    #[test]
    fn parents_come_first_and_the_account_contact_cycle_is_deferred() {
        let mut edges = BTreeMap::new();
        edges.insert(
            "contact".to_string(),
            vec![("parentcustomerid".into(), "account".into(), false)],
        );
        edges.insert(
            "account".to_string(),
            vec![("primarycontactid".into(), "contact".into(), false)],
        );
        edges.insert(
            "incident".to_string(),
            vec![
                ("customerid".into(), "account".into(), true),
                ("primarycontactid".into(), "contact".into(), false),
            ],
        );
        let (order, deferred) =
            order_tables(&tables(&["account", "contact", "incident"]), &edges).unwrap();
        assert_eq!(order, ["account", "contact", "incident"]);
        assert_eq!(
            deferred.into_iter().collect::<Vec<_>>(),
            [("account".to_string(), "primarycontactid".to_string())]
        );
    }

    #[test]
    fn a_cycle_of_required_lookups_is_refused() {
        let mut edges = BTreeMap::new();
        edges.insert("a".to_string(), vec![("b_id".into(), "b".into(), true)]);
        edges.insert("b".to_string(), vec![("a_id".into(), "a".into(), true)]);
        let err = order_tables(&tables(&["a", "b"]), &edges).unwrap_err();
        assert!(err.to_string().contains("no load order exists"), "{err}");
    }
}
