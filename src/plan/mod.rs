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
//!
//! The plan also owns what push will send and in which order ([`steps`]),
//! the request count that follows ([`estimate`]), and the live side —
//! reading the target's metadata and `plan --apply` ([`target`]) — so push,
//! verify and the commands all judge the staged rows by one plan.

pub mod estimate;
pub mod steps;
pub mod target;

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
    /// The unit groups and units products need (`stg.uomschedule`,
    /// `stg.uom`); `in_target` is not known yet.
    pub unit_groups: Vec<UnitGroup>,
    /// Rows of every step `ferry push` will run (the estimate's basis);
    /// empty when the staged tables cannot be ordered against `planned`.
    pub push_steps: Vec<estimate::StepCount>,
}

/// A unit group products need (SPEC §9 product: `defaultuomscheduleid` and
/// `defaultuomid` need a unit group and a unit first). These are records,
/// not metadata: the loader creates them before products, so they never
/// make a plan fail; the plan shows them so nobody is surprised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitGroup {
    pub name: String,
    /// The unit Dataverse creates with the group (`baseuomname`).
    pub base_unit: String,
    /// Products whose default unit is the base unit.
    pub base_unit_products: u64,
    /// The group's other units.
    pub units: Vec<Unit>,
    /// Products that use the group (`defaultuomscheduleid`).
    pub products: u64,
    /// Products of the group without a default unit.
    pub products_without_unit: u64,
    /// Whether the target already has a unit group of this name; `None`
    /// when no target was read.
    pub in_target: Option<bool>,
}

/// A unit of a group other than its base unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unit {
    pub name: String,
    /// How many base units it stands for.
    pub quantity: f64,
    /// Products whose default unit it is.
    pub products: u64,
}

/// Reads what the staged rows need, described by `planned` (ferry's
/// built-in schema with the workspace prefix).
pub fn needs(conn: &Connection, planned: &Schema) -> Result<Needs> {
    let mut out = Needs::default();
    let tables = steps::staged_columns(conn)?;
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
    out.unit_groups = unit_groups(conn)?;
    // A staged table the schema does not know cannot be ordered; the plan
    // items above already report it, and the estimate then leaves it out.
    if let Ok(steps) = steps::plan_steps(conn, planned) {
        out.push_steps = estimate::count_steps(conn, &steps)?;
    }
    Ok(out)
}

/// The unit groups of `stg.uomschedule` with their units (`stg.uom`) and
/// the products (`stg.product`) using them. A table a transform does not
/// produce counts as empty.
pub fn unit_groups(conn: &Connection) -> Result<Vec<UnitGroup>> {
    if !staged(conn, "uomschedule")? {
        return Ok(Vec::new());
    }
    let key = |column: &str| format!("CAST({} AS VARCHAR)", quote_ident(column));
    let groups: Vec<(Option<String>, String, Option<String>)> = {
        let sql = format!(
            "SELECT {}, name, {} FROM {} WHERE name IS NOT NULL ORDER BY name",
            key("uomscheduleid"),
            if staged_column(conn, "uomschedule", "baseuomname")? {
                "baseuomname"
            } else {
                "NULL"
            },
            qualified("stg", "uomschedule")
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<std::result::Result<_, _>>()?
    };
    // (unit id, group id, name, quantity, base unit flag)
    type UnitRow = (
        Option<String>,
        Option<String>,
        String,
        Option<f64>,
        Option<bool>,
    );
    let units: Vec<UnitRow> = if staged(conn, "uom")? {
        let flag = if staged_column(conn, "uom", "_is_base_unit")? {
            "_is_base_unit"
        } else {
            "NULL::BOOLEAN"
        };
        let quantity = if staged_column(conn, "uom", "quantity")? {
            "CAST(quantity AS DOUBLE)"
        } else {
            "NULL::DOUBLE"
        };
        let sql = format!(
            "SELECT {}, {}, name, {quantity}, {flag} FROM {} WHERE name IS NOT NULL ORDER BY name",
            key("uomid"),
            key("uomscheduleid"),
            qualified("stg", "uom")
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
        rows.collect::<std::result::Result<_, _>>()?
    } else {
        Vec::new()
    };
    // (group id, unit id) → products
    let mut products: BTreeMap<(Option<String>, Option<String>), u64> = BTreeMap::new();
    if staged_column(conn, "product", "defaultuomscheduleid")? {
        let unit = if staged_column(conn, "product", "defaultuomid")? {
            key("defaultuomid")
        } else {
            "NULL".to_string()
        };
        let sql = format!(
            "SELECT {}, {unit}, count(*) FROM {} GROUP BY ALL",
            key("defaultuomscheduleid"),
            qualified("stg", "product")
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| {
            Ok(((r.get(0)?, r.get(1)?), r.get::<_, i64>(2)? as u64))
        })?;
        for row in rows {
            let (k, n) = row?;
            products.insert(k, n);
        }
    }
    let mut out = Vec::new();
    for (group_id, name, base_name) in groups {
        let mine: Vec<&UnitRow> = units
            .iter()
            .filter(|u| group_id.is_some() && u.1 == group_id)
            .collect();
        let is_base = |u: &UnitRow| match (u.4, &base_name) {
            (Some(flag), _) => flag,
            (None, Some(base)) => u.2.eq_ignore_ascii_case(base),
            (None, None) => false,
        };
        let base = mine.iter().find(|u| is_base(u));
        let base_unit = base_name
            .clone()
            .or_else(|| base.map(|u| u.2.clone()))
            .unwrap_or_default();
        let used = |unit_id: &Option<String>| {
            if group_id.is_none() || unit_id.is_none() {
                return 0;
            }
            products
                .get(&(group_id.clone(), unit_id.clone()))
                .copied()
                .unwrap_or(0)
        };
        let in_group: u64 = products
            .iter()
            .filter(|((g, _), _)| group_id.is_some() && *g == group_id)
            .map(|(_, n)| n)
            .sum();
        let without_unit = if group_id.is_some() {
            products
                .get(&(group_id.clone(), None))
                .copied()
                .unwrap_or(0)
        } else {
            0
        };
        out.push(UnitGroup {
            base_unit_products: base.map_or(0, |u| used(&u.0)),
            units: mine
                .iter()
                .filter(|u| !is_base(u))
                .map(|u| Unit {
                    name: u.2.clone(),
                    quantity: u.3.unwrap_or(1.0),
                    products: used(&u.0),
                })
                .collect(),
            products: in_group,
            products_without_unit: without_unit,
            in_target: None,
            name,
            base_unit,
        });
    }
    Ok(out)
}

fn staged(conn: &Connection, table: &str) -> Result<bool> {
    crate::stage::db::relation_exists(conn, "stg", table)
}

fn staged_column(conn: &Connection, table: &str, column: &str) -> Result<bool> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM duckdb_columns() WHERE schema_name = 'stg' \
         AND database_name = current_database() AND table_name = ? AND column_name = ?",
        [table, column],
        |r| r.get(0),
    )?;
    Ok(n > 0)
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
    /// The push step (`incident`, `incident (state)`, …).
    pub table: String,
    pub rows: u64,
    /// Existence reads (one per chunk; they are also the pre-images).
    pub reads: u64,
    pub writes: u64,
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
    /// The unit groups and units products need: records the loader creates
    /// before products, shown for information (never a reason to exit 1).
    pub units: Vec<UnitGroup>,
}

impl Plan {
    /// `plan` exits 0 only when the target is ready.
    pub fn is_ready(&self) -> bool {
        self.missing == 0 && self.incompatible == 0 && self.licence_problem.is_none()
    }
}

/// Compares what the staged rows need with the target.
/// `target_unit_groups` names the unit groups of `needs` the target already
/// has (`None` when no target was read).
#[allow(clippy::too_many_arguments)]
pub fn compare(
    needs: &Needs,
    planned: &Schema,
    target: &Schema,
    target_label: &str,
    professional: bool,
    batch_size: usize,
    application_users: u32,
    target_unit_groups: Option<&[String]>,
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
    let units = needs
        .unit_groups
        .iter()
        .map(|g| UnitGroup {
            in_target: target_unit_groups
                .map(|have| have.iter().any(|n| n.eq_ignore_ascii_case(&g.name))),
            ..g.clone()
        })
        .collect();
    Plan {
        target: target_label.to_string(),
        units,
        missing,
        incompatible,
        custom_tables: custom_tables.len(),
        licence_problem,
        estimate: estimate(needs, planned, batch_size, application_users),
        items,
    }
}

/// Requests per push step at `batch_size` — the loader's own rule
/// ([`estimate`]): an existence read and a create per chunk of
/// every table, the state, deferred-lookup and N:N passes — and the time
/// the service protection limits allow for them with `users` application
/// users.
pub fn estimate(needs: &Needs, _planned: &Schema, batch_size: usize, users: u32) -> Estimate {
    let users_f = f64::from(users.max(1));
    let steps = estimate::requests(&needs.push_steps, batch_size);
    let tables: Vec<TableEstimate> = steps
        .iter()
        .map(|s| TableEstimate {
            table: s.label.clone(),
            rows: s.rows,
            reads: s.reads,
            writes: s.writes,
            requests: s.requests(),
            how: s.how,
        })
        .collect();
    let records: u64 = needs
        .push_steps
        .iter()
        .filter(|c| c.kind == "records" || c.kind == "associate")
        .map(|c| c.rows)
        .sum();
    let written: u64 = needs.push_steps.iter().map(|c| c.rows).sum();
    let requests: u64 = tables.iter().map(|t| t.requests).sum();
    let reads: u64 = tables.iter().map(|t| t.reads).sum();
    let minutes_by_request_limit =
        requests as f64 / (REQUESTS_PER_WINDOW * users_f) * WINDOW_SECONDS / 60.0;
    let execution_seconds = written as f64 * ASSUMED_MS_PER_RECORD / 1000.0;
    let minutes_by_execution_limit =
        execution_seconds / (EXECUTION_SECONDS_PER_WINDOW * users_f) * WINDOW_SECONDS / 60.0;
    Estimate {
        batch_size,
        application_users: users,
        tables,
        records,
        requests,
        // Each record a bulk request writes counts as one request, and so
        // does every read (SPEC §9 Limits).
        entitlement_requests: written + reads,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn staged_units() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE SCHEMA stg;
             CREATE TABLE stg.uomschedule AS
                 SELECT 'g1'::VARCHAR AS uomscheduleid, 'ServiceTracker Units' AS name, 'Each' AS baseuomname;
             CREATE TABLE stg.uom AS SELECT * FROM (VALUES
                 ('u-each', 'g1', 'Each', 1::DECIMAL(17,5), true),
                 ('u-box', 'g1', 'Box', 12::DECIMAL(17,5), false),
                 ('u-foot', 'g1', 'Foot', 1::DECIMAL(17,5), false))
                 AS t(uomid, uomscheduleid, name, quantity, _is_base_unit);
             CREATE TABLE stg.product AS SELECT * FROM (VALUES
                 ('p1', 'g1', 'u-each'), ('p2', 'g1', 'u-box'), ('p3', 'g1', 'u-box'),
                 ('p4', 'g1', NULL))
                 AS t(productid, defaultuomscheduleid, defaultuomid);",
        )
        .unwrap();
        conn
    }

    #[test]
    fn unit_groups_come_from_stg_with_their_products() {
        let groups = unit_groups(&staged_units()).unwrap();
        assert_eq!(
            groups,
            vec![UnitGroup {
                name: "ServiceTracker Units".into(),
                base_unit: "Each".into(),
                base_unit_products: 1,
                units: vec![
                    Unit {
                        name: "Box".into(),
                        quantity: 12.0,
                        products: 2
                    },
                    Unit {
                        name: "Foot".into(),
                        quantity: 1.0,
                        products: 0
                    },
                ],
                products: 4,
                products_without_unit: 1,
                in_target: None,
            }]
        );
        let empty = Connection::open_in_memory().unwrap();
        assert!(unit_groups(&empty).unwrap().is_empty());
    }

    #[test]
    fn unit_groups_are_information_and_never_hold_the_plan_up() {
        let planned = Schema::builtin("st");
        let needs = Needs {
            unit_groups: unit_groups(&staged_units()).unwrap(),
            ..Needs::default()
        };
        let target = planned.standard_only();
        let run =
            |have: Option<&[String]>| compare(&needs, &planned, &target, "t", false, 500, 1, have);
        let none = run(None);
        assert!(none.is_ready());
        assert_eq!(none.units[0].in_target, None);
        let absent = run(Some(&["Default Unit".to_string()]));
        assert!(absent.is_ready());
        assert_eq!(absent.units[0].in_target, Some(false));
        assert!(absent.items.is_empty());
        let present = run(Some(&["servicetracker units".to_string()]));
        assert_eq!(present.units[0].in_target, Some(true));
        assert_eq!(present.units[0].units.len(), 2);
    }
}
