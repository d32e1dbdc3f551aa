//! `ferry plan`: what the target must have before any record moves — the
//! tables, columns and option values the staged rows use — checked against
//! the target's metadata, and what the load will cost under Dataverse's
//! limits (SPEC §5, §6 gates, §9).
//!
//! The needs are read from `stg.*` itself (every column the transforms
//! produce, the longest value of each text column, every option value
//! used), so a transform an analyst adds is planned without telling ferry.
//! The comparison is pure: it takes the target as a [`Schema`], whether read
//! from a live org, from the emulator, or ferry's built-in reference.

use std::collections::{BTreeMap, BTreeSet};

use duckdb::Connection;
use serde::Serialize;

use crate::dataverse::schema::{Column, ColumnType, Schema};
use crate::error::Result;
use crate::stage::db::{qualified, quote_ident};

/// Requests per user per 5-minute window (SPEC §9 Limits).
pub const REQUESTS_PER_WINDOW: f64 = 6000.0;
/// Combined execution seconds per user per 5-minute window.
pub const EXECUTION_SECONDS_PER_WINDOW: f64 = 1200.0;
pub const WINDOW_SECONDS: f64 = 300.0;
/// Dynamics 365 Professional allows at most 15 custom tables (SPEC §9).
pub const PROFESSIONAL_CUSTOM_TABLES: usize = 15;
/// Daily entitlement of one licensed user (each record of a bulk request
/// counts as one request; SPEC §9).
pub const DAILY_REQUESTS_PER_USER: u64 = 40_000;
/// Assumed server time per record written by a bulk message. Microsoft
/// publishes no figure; this is a planning assumption shown in the report,
/// and the loader reports the real execution time to compare against.
pub const ASSUMED_MS_PER_RECORD: f64 = 25.0;

/// A column the staged rows need in the target.
#[derive(Debug, Clone, Serialize)]
pub struct NeededColumn {
    pub table: String,
    pub column: String,
    /// Dataverse type ferry plans for it.
    pub type_name: String,
    /// Longest value in `stg.*` (text columns).
    pub longest: Option<i64>,
    /// Length ferry plans for it (custom text columns).
    pub planned_length: Option<i64>,
    pub custom: bool,
}

/// What `stg.*` needs: columns per table, option values per column, rows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Needs {
    pub columns: Vec<NeededColumn>,
    /// (table, column) → option values used.
    pub options: BTreeMap<(String, String), BTreeSet<i64>>,
    pub rows: BTreeMap<String, u64>,
    /// N:N relationships with staged links.
    pub relationships: Vec<String>,
}

/// Reads what the staged rows need, described by `planned` (ferry's
/// built-in schema with the workspace prefix).
pub fn needs(conn: &Connection, planned: &Schema) -> Result<Needs> {
    let mut out = Needs::default();
    let tables: Vec<(String, Vec<(String, String)>)> = {
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
        let mut grouped: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for row in rows {
            let (t, c, d) = row?;
            grouped.entry(t).or_default().push((c, d));
        }
        grouped.into_iter().collect()
    };
    for (table, columns) in tables {
        let n: i64 = conn.query_row(
            &format!("SELECT count(*) FROM {}", qualified("stg", &table)),
            [],
            |r| r.get(0),
        )?;
        out.rows.insert(table.clone(), n as u64);
        if planned.many_to_many().iter().any(|m| m.name == table) {
            out.relationships.push(table.clone());
            continue;
        }
        let names: BTreeSet<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
        let sent: Vec<&(String, String)> = columns
            .iter()
            .filter(|(c, _)| !c.starts_with('_'))
            // `<lookup>_table` names the target of the lookup beside it.
            .filter(|(c, _)| {
                !c.strip_suffix("_table")
                    .is_some_and(|base| names.contains(base))
            })
            .collect();
        let text: Vec<&str> = sent
            .iter()
            .filter(|(_, d)| d == "VARCHAR")
            .map(|(c, _)| c.as_str())
            .collect();
        let longest = longest_values(conn, &table, &text)?;
        for (column, duck_type) in sent {
            let known = planned.column(&table, column);
            let type_name = match known {
                Some(c) => c.column_type.as_str().to_string(),
                None => type_for_duckdb(duck_type).to_string(),
            };
            if let Some(c) = known {
                if has_options(c) {
                    let values = option_values(conn, &table, column)?;
                    if !values.is_empty() {
                        out.options.insert((table.clone(), column.clone()), values);
                    }
                }
            }
            out.columns.push(NeededColumn {
                table: table.clone(),
                column: column.clone(),
                type_name,
                longest: longest.get(column.as_str()).copied().flatten(),
                planned_length: known.and_then(|c| c.max_length),
                custom: known.is_none_or(|c| c.custom),
            });
        }
    }
    Ok(out)
}

fn has_options(column: &Column) -> bool {
    matches!(
        column.column_type,
        ColumnType::Picklist | ColumnType::Status | ColumnType::State
    )
}

/// The Dataverse type a column ferry does not know yet would need.
fn type_for_duckdb(duck_type: &str) -> &'static str {
    match duck_type {
        "VARCHAR" => "String",
        "BOOLEAN" => "Boolean",
        "INTEGER" | "SMALLINT" | "TINYINT" => "Integer",
        "BIGINT" => "BigInt",
        "DOUBLE" | "FLOAT" => "Double",
        "DATE" | "TIMESTAMP WITH TIME ZONE" | "TIMESTAMP" => "DateTime",
        "UUID" => "Lookup",
        d if d.starts_with("DECIMAL") => "Decimal",
        _ => "String",
    }
}

fn longest_values(
    conn: &Connection,
    table: &str,
    columns: &[&str],
) -> Result<BTreeMap<String, Option<i64>>> {
    if columns.is_empty() {
        return Ok(BTreeMap::new());
    }
    let select: Vec<String> = columns
        .iter()
        .map(|c| format!("max(length({}))", quote_ident(c)))
        .collect();
    let sql = format!(
        "SELECT {} FROM {}",
        select.join(", "),
        qualified("stg", table)
    );
    let values: Vec<Option<i64>> = conn.query_row(&sql, [], |r| {
        (0..columns.len())
            .map(|i| r.get::<_, Option<i64>>(i))
            .collect()
    })?;
    Ok(columns.iter().map(|c| c.to_string()).zip(values).collect())
}

fn option_values(conn: &Connection, table: &str, column: &str) -> Result<BTreeSet<i64>> {
    let sql = format!(
        "SELECT DISTINCT {0}::BIGINT FROM {1} WHERE {0} IS NOT NULL",
        quote_ident(column),
        qualified("stg", table)
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Where one need stands in the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Standing {
    Present,
    Missing,
    Incompatible,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanItem {
    /// `table`, `column`, `option` or `relationship`.
    pub kind: &'static str,
    pub table: String,
    pub name: String,
    pub standing: Standing,
    pub detail: String,
    /// Whether `plan --apply` can create it.
    pub creatable: bool,
}

/// Requests and time for one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableEstimate {
    pub table: String,
    pub rows: u64,
    pub requests: u64,
    /// `CreateMultiple` or `$batch` / single requests.
    pub how: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    pub batch_size: usize,
    pub application_users: u32,
    pub tables: Vec<TableEstimate>,
    pub records: u64,
    pub requests: u64,
    /// Requests the daily entitlement counts (each bulk record is one).
    pub entitlement_requests: u64,
    pub minutes_by_request_limit: f64,
    pub minutes_by_execution_limit: f64,
    /// The larger of the two: what the limits allow at best.
    pub minutes: f64,
    pub assumed_ms_per_record: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Where the target's metadata came from.
    pub target: String,
    pub items: Vec<PlanItem>,
    pub missing: usize,
    pub incompatible: usize,
    pub custom_tables: usize,
    /// `Some(message)` when the licence tier does not allow the custom tables.
    pub licence_problem: Option<String>,
    pub estimate: Estimate,
}

impl Plan {
    /// `plan` exits 0 only when the target is ready.
    pub fn is_ready(&self) -> bool {
        self.missing == 0 && self.incompatible == 0 && self.licence_problem.is_none()
    }
}

/// Compares what the staged rows need with the target.
pub fn compare(
    needs: &Needs,
    planned: &Schema,
    target: &Schema,
    target_label: &str,
    professional: bool,
    batch_size: usize,
    application_users: u32,
) -> Plan {
    let mut items = Vec::new();
    let mut custom_tables = BTreeSet::new();
    let tables: BTreeSet<&str> = needs.columns.iter().map(|c| c.table.as_str()).collect();
    for table in &tables {
        let is_custom = planned.table(table).is_none_or(|t| t.custom);
        if is_custom {
            custom_tables.insert(table.to_string());
        }
        let present = target.table(table).is_some();
        items.push(PlanItem {
            kind: "table",
            table: table.to_string(),
            name: table.to_string(),
            standing: if present {
                Standing::Present
            } else {
                Standing::Missing
            },
            detail: if present {
                String::new()
            } else if is_custom {
                "custom table to create".into()
            } else {
                "standard table missing from the target (is the app installed?)".into()
            },
            creatable: !present && is_custom,
        });
    }
    for need in &needs.columns {
        let Some(target_table) = target.table(&need.table) else {
            continue; // reported with its table
        };
        let (standing, detail) = match target_table.column(&need.column) {
            None => (
                Standing::Missing,
                format!(
                    "{} column to create{}",
                    need.type_name,
                    need.planned_length
                        .map(|l| format!(" (length {l})"))
                        .unwrap_or_default()
                ),
            ),
            Some(have) => {
                let same_kind = have.column_type.as_str() == need.type_name
                    || matches!(
                        (have.column_type, need.type_name.as_str()),
                        (ColumnType::Memo, "String")
                            | (ColumnType::String, "Memo")
                            | (ColumnType::Customer, "Lookup")
                            | (ColumnType::Lookup, "Customer")
                            | (ColumnType::Owner, "Lookup")
                    );
                match (same_kind, have.max_length, need.longest) {
                    (false, _, _) => (
                        Standing::Incompatible,
                        format!(
                            "the target column is {}, the staged values need {}",
                            have.column_type.as_str(),
                            need.type_name
                        ),
                    ),
                    (true, Some(max), Some(longest)) if longest > max => (
                        Standing::Incompatible,
                        format!("target length {max} < longest staged value {longest}"),
                    ),
                    _ => (Standing::Present, String::new()),
                }
            }
        };
        items.push(PlanItem {
            kind: "column",
            table: need.table.clone(),
            name: need.column.clone(),
            creatable: standing == Standing::Missing && need.custom,
            standing,
            detail,
        });
    }
    for ((table, column), values) in &needs.options {
        let Some(have) = target.column(table, column) else {
            continue;
        };
        for value in values {
            let present = have.options.iter().any(|o| i64::from(o.value) == *value);
            items.push(PlanItem {
                kind: "option",
                table: table.clone(),
                name: format!("{column} = {value}"),
                standing: if present {
                    Standing::Present
                } else {
                    Standing::Missing
                },
                detail: if present {
                    String::new()
                } else {
                    "option value to insert (InsertOptionValue)".into()
                },
                creatable: !present && matches!(have.column_type, ColumnType::Picklist),
            });
        }
    }
    for relationship in &needs.relationships {
        let present = target
            .many_to_many()
            .iter()
            .any(|m| &m.name == relationship);
        items.push(PlanItem {
            kind: "relationship",
            table: relationship.clone(),
            name: relationship.clone(),
            standing: if present {
                Standing::Present
            } else {
                Standing::Missing
            },
            detail: if present {
                String::new()
            } else {
                "N:N relationship to create".into()
            },
            creatable: !present,
        });
    }
    let missing = items
        .iter()
        .filter(|i| i.standing == Standing::Missing)
        .count();
    let incompatible = items
        .iter()
        .filter(|i| i.standing == Standing::Incompatible)
        .count();
    let licence_problem = (professional && custom_tables.len() > PROFESSIONAL_CUSTOM_TABLES)
        .then(|| {
            format!(
                "the migration needs {} custom tables; Dynamics 365 Professional allows {PROFESSIONAL_CUSTOM_TABLES}: fold some into standard tables or license Enterprise",
                custom_tables.len()
            )
        });
    Plan {
        target: target_label.to_string(),
        missing,
        incompatible,
        custom_tables: custom_tables.len(),
        licence_problem,
        estimate: estimate(needs, planned, batch_size, application_users),
        items,
    }
}

/// Requests per table at `batch_size`, and the time the service protection
/// limits allow for them with `users` application users.
pub fn estimate(needs: &Needs, planned: &Schema, batch_size: usize, users: u32) -> Estimate {
    let batch = batch_size.max(1) as u64;
    let users_f = f64::from(users.max(1));
    let mut tables = Vec::new();
    for (table, rows) in &needs.rows {
        if *rows == 0 {
            continue;
        }
        // N:N links are one `$ref` each, sent in `$batch` requests of up to
        // 1,000 (SPEC §9); every table here takes bulk messages.
        let (requests, how) = if needs.relationships.contains(table) {
            (rows.div_ceil(1000), "$batch of $ref")
        } else if planned.table(table).is_some() {
            (rows.div_ceil(batch), "CreateMultiple")
        } else {
            (rows.div_ceil(1000), "$batch")
        };
        tables.push(TableEstimate {
            table: table.clone(),
            rows: *rows,
            requests,
            how,
        });
    }
    let records: u64 = tables.iter().map(|t| t.rows).sum();
    let requests: u64 = tables.iter().map(|t| t.requests).sum();
    let minutes_by_request_limit =
        requests as f64 / (REQUESTS_PER_WINDOW * users_f) * WINDOW_SECONDS / 60.0;
    let execution_seconds = records as f64 * ASSUMED_MS_PER_RECORD / 1000.0;
    let minutes_by_execution_limit =
        execution_seconds / (EXECUTION_SECONDS_PER_WINDOW * users_f) * WINDOW_SECONDS / 60.0;
    Estimate {
        batch_size,
        application_users: users,
        tables,
        records,
        requests,
        entitlement_requests: records,
        minutes_by_request_limit,
        minutes_by_execution_limit,
        minutes: minutes_by_request_limit.max(minutes_by_execution_limit),
        assumed_ms_per_record: ASSUMED_MS_PER_RECORD,
    }
}

/// Days of one licensed user's daily entitlement the load consumes.
pub fn entitlement_days(estimate: &Estimate) -> f64 {
    estimate.entitlement_requests as f64 / DAILY_REQUESTS_PER_USER as f64
}
