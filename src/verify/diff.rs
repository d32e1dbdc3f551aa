//! The field-level diff between `stg.<table>` (what ferry sent) and
//! `dv.<table>` (what the target holds), as SQL over the two tables.
//!
//! Two passes per table (see [`diff_table`]): a fingerprint of every row
//! on each side, joined on the primary id as two narrow lists, picks the
//! few ids with something to say — a record on one side only, or a
//! fingerprint that differs; only those are compared value by value after
//! normalisation. Matching rows (nearly all of them) are never
//! materialised, and every count of matches is derived from the counts of
//! rows and of mismatches. That keeps the diff within a small factor of a
//! bare `FULL OUTER JOIN … count(*)` (see `benches/verify.rs`).
//!
//! Classification (SPEC §3 verify, issue 8):
//! - **missing**: push recorded it created/updated/unchanged in a run not
//!   rolled back, and the target does not have it;
//! - **not_pushed**: staged, not in the target, and no push put it there
//!   (a failed record is explained by `audit.records`, not missing);
//! - **unexpected**: in the target with a ferry record id, not staged;
//! - **truncated**: the target's text is a strict prefix of the staged text;
//! - **differing**: any other difference after normalisation.

use std::collections::BTreeMap;
use std::time::Instant;

use duckdb::Connection;
use serde::Serialize;

use super::VerifySql;
use crate::error::{Error, Result};
use crate::stage::db::{qualified, quote_ident, relation_exists};

/// One table's outcome (a row of `verify.tables`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableDiff {
    pub table: String,
    pub staged: u64,
    pub target: u64,
    pub compared: u64,
    pub matched: u64,
    pub differing: u64,
    pub truncated: u64,
    pub missing: u64,
    pub unexpected: u64,
    pub not_pushed: u64,
}

impl TableDiff {
    /// Anything the sign-off has to look at.
    pub fn problems(&self) -> u64 {
        self.differing + self.truncated + self.missing + self.unexpected
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DiffSummary {
    pub tables: Vec<TableDiff>,
    /// Rows of `verify.differences`.
    pub differences: u64,
    pub seconds: f64,
}

impl DiffSummary {
    pub fn problems(&self) -> u64 {
        self.tables.iter().map(TableDiff::problems).sum()
    }
}

/// Runs one stage of the diff, logging how long it took
/// (`FERRY_LOG=ferry::verify=debug`): where a slow diff spends its time.
fn timed<T>(what: &str, run: impl FnOnce() -> Result<T>) -> Result<T> {
    let started = Instant::now();
    let out = run();
    tracing::debug!("verify: {what} in {:.3} s", started.elapsed().as_secs_f64());
    out
}

/// One compared column, from `dv.columns`.
#[derive(Debug, Clone)]
struct Compared {
    column: String,
    kind: String,
    precision: Option<i32>,
    target_column: String,
    null_is_default: bool,
}

/// A read table, from `dv.read_backs`.
struct ReadTable {
    table: String,
    primary_id: String,
    record_id_column: String,
}

/// Diffs every table in `dv.read_backs` against its `stg` table into
/// `verify.*`. Needs only DuckDB: the read-back wrote what to compare.
pub fn diff(conn: &Connection, sql: &VerifySql) -> Result<DiffSummary> {
    let started = Instant::now();
    if !relation_exists(conn, "dv", "read_backs")? || !relation_exists(conn, "dv", "columns")? {
        return Err(Error::Usage(
            "nothing was read back from the target yet (no dv.read_backs): run `ferry verify`, which reads back before it compares".into(),
        ));
    }
    timed("rules and macros", || sql.prepare(conn))?;
    timed("verify tables", || {
        crate::push::audit::ensure(conn)?;
        // The runs that count are those of the target the read-back came from.
        let target: String = if relation_exists(conn, "dv", "read_from")? {
            conn.query_row(
                "SELECT coalesce(any_value(target_name), 'default') FROM dv.read_from",
                [],
                |r| r.get(0),
            )?
        } else {
            crate::workspace::LEGACY_TARGET_NAME.to_string()
        };
        crate::push::audit::scope_to_target(conn, &target)?;
        Ok(conn.execute_batch(crate::sql_catalog::schema_sql("verify", "tables"))?)
    })?;
    let tables = read_tables(conn)?;
    let columns = compared_columns(conn)?;
    let remap = guid_map_in_use(conn)?;
    timed("activity parties", || diff_parties(conn, sql, &tables))?;
    let mut summary = DiffSummary::default();
    for table in &tables {
        if !relation_exists(conn, "stg", &table.table)? {
            return Err(Error::Usage(format!(
                "dv.{t} was read back, but stg.{t} no longer exists: run `ferry transform` again, or `ferry verify` after the next push",
                t = table.table
            )));
        }
        let cols = columns.get(&table.table).cloned().unwrap_or_default();
        let types = column_types(conn, &table.table)?;
        let values: Vec<Compared> = cols.iter().filter(|c| c.kind != "party").cloned().collect();
        diff_table(conn, table, &values, &types, remap)?;
        summary.tables.push(summarise_table(conn, table, &cols)?);
    }
    summary.differences = conn.query_row("SELECT count(*) FROM verify.differences", [], |r| {
        r.get::<_, i64>(0)
    })? as u64;
    sql.record(conn)?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Files the activity-party differences (`sql/verify/parties.sql`) under
/// the column `activityparty` of each activity's table, before the
/// records are classified, so an activity whose only difference is a
/// party counts as differing.
fn diff_parties(conn: &Connection, sql: &VerifySql, tables: &[ReadTable]) -> Result<()> {
    let activities: Vec<&ReadTable> = tables
        .iter()
        .filter(|t| t.primary_id == "activityid")
        .collect();
    let needed = [
        ("dv", "activityparty"),
        ("stg", "activityparty"),
        ("dv", "systemuser"),
    ];
    for (schema, table) in needed {
        if !relation_exists(conn, schema, table)? {
            return Ok(());
        }
    }
    if activities.is_empty() {
        return Ok(());
    }
    let union: Vec<String> = activities
        .iter()
        .map(|t| {
            format!(
                "SELECT s.activityid, '{name}' AS table_name, CAST(s.{rid} AS VARCHAR) AS record_id
                 FROM {stg} AS s SEMI JOIN {dv} AS d USING (activityid)",
                name = t.table.replace('\'', "''"),
                rid = quote_ident(&t.record_id_column),
                stg = qualified("stg", &t.table),
                dv = qualified("dv", &t.table),
            )
        })
        .collect();
    // generated per activity table: one UNION arm each.
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE verify_activities AS {}",
        union.join(" UNION ALL ")
    ))?;
    sql.parties.run(conn)?;
    conn.execute(
        "INSERT INTO verify.differences
         SELECT table_name, record_id, activityid, ?, 'differing', staged_value, target_value
         FROM temp.verify_party_diff ORDER BY table_name, record_id, staged_value, target_value",
        [super::readback::PARTIES_COLUMN],
    )?;
    Ok(())
}

fn read_tables(conn: &Connection) -> Result<Vec<ReadTable>> {
    // activityparty rows carry no record id; they are compared with their
    // activity, not as records of their own.
    let mut stmt = conn.prepare(
        "SELECT table_name, primary_id, record_id_column FROM dv.read_backs
         WHERE record_id_column <> '' ORDER BY table_name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(ReadTable {
            table: r.get(0)?,
            primary_id: r.get(1)?,
            record_id_column: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

fn compared_columns(conn: &Connection) -> Result<BTreeMap<String, Vec<Compared>>> {
    let mut stmt = conn.prepare(
        "SELECT table_name, column_name, kind, precision, target_column, null_is_default FROM dv.columns ORDER BY table_name, rowid",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Compared {
                column: r.get(1)?,
                kind: r.get(2)?,
                precision: r.get(3)?,
                target_column: r.get(4)?,
                null_is_default: r.get(5)?,
            },
        ))
    })?;
    let mut out: BTreeMap<String, Vec<Compared>> = BTreeMap::new();
    for row in rows {
        let (table, c) = row?;
        out.entry(table).or_default().push(c);
    }
    Ok(out)
}

/// `schema.table.column` → DuckDB type, for the stg and dv tables.
fn column_types(conn: &Connection, table: &str) -> Result<BTreeMap<(String, String), String>> {
    let mut stmt = conn.prepare(
        "SELECT schema_name, column_name, data_type FROM duckdb_columns()
         WHERE database_name = current_database() AND schema_name IN ('stg', 'dv') AND table_name = ?",
    )?;
    let rows = stmt.query_map([table], |r| {
        Ok(((r.get(0)?, r.get(1)?), r.get::<_, String>(2)?))
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Whether any record lives in the target under another id than staged
/// (`audit.guid_map`, a unit group's base unit): lookups to it are then
/// compared under the target's id.
fn guid_map_in_use(conn: &Connection) -> Result<bool> {
    Ok(
        conn.query_row("SELECT count(*) FROM audit.guid_map", [], |r| {
            r.get::<_, i64>(0)
        })? > 0,
    )
}

/// The normalised value of a column on one side (`s` staged, `d` target).
fn normalised(kind: &str, precision: Option<i32>, value: &str) -> String {
    match kind {
        "integer" => format!("verify_integer({value})"),
        // Without a precision in the metadata, four places: what the
        // loader compares at when deciding an update (src/push/rows.rs).
        "number" => format!(
            "verify_number({value}, {})",
            precision.unwrap_or(4).clamp(0, 10)
        ),
        "boolean" => format!("verify_boolean({value})"),
        "datetime" => format!("verify_instant({value})"),
        "dateonly" => format!("verify_date({value})"),
        "lookup" => format!("verify_lookup({value})"),
        _ => format!("verify_text({value})"),
    }
}

/// What one side of a column contributes to the row fingerprint: the raw
/// value where both sides have the same type (raw equality implies
/// normalised equality; most values are equal), else the normalised
/// value. Either way equal values give equal fingerprints; a fingerprint
/// that differs only sends the row to the exact comparison.
fn fingerprint_part(kind: &str, precision: Option<i32>, value: &str, same_type: bool) -> String {
    if same_type {
        value.to_string()
    } else {
        normalised(kind, precision, value)
    }
}

/// Diffs one table in two passes and files its differences and records.
///
/// 1. Fingerprints: each side is scanned once into (id, hash of its
///    compared values), and the two narrow lists are joined. Only ids on
///    one side, or whose fingerprints differ, go on (`temp.verify_keys`).
///    Joining the narrow lists rather than the wide rows is what keeps the
///    diff near a bare key join: a hash join carrying a dozen text columns
///    per side costs several times the join itself.
/// 2. The exact comparison of the normalised values, for those ids only
///    (`temp.verify_pairs`): each side is first cut down to them by a semi
///    join whose small side is the ids, so no hash table of a whole table
///    is built.
fn diff_table(
    conn: &Connection,
    table: &ReadTable,
    cols: &[Compared],
    types: &BTreeMap<(String, String), String>,
    remap: bool,
) -> Result<()> {
    let pk = quote_ident(&table.primary_id);
    let rid = quote_ident(&table.record_id_column);
    let stg = qualified("stg", &table.table);
    let dv = qualified("dv", &table.table);
    let mut staged_print = Vec::new();
    let mut target_print = Vec::new();
    let mut select = vec![
        "k.id".to_string(),
        format!("coalesce(CAST(s.{rid} AS VARCHAR), CAST(d.{rid} AS VARCHAR)) AS record_id"),
        format!("s.{pk} IS NOT NULL AS in_stg"),
        format!("d.{pk} IS NOT NULL AS in_dv"),
    ];
    let mut differs = Vec::new();
    for (i, c) in cols.iter().enumerate() {
        let column = quote_ident(&c.column);
        let target_column = quote_ident(&c.target_column);
        let same_type = types.get(&("stg".to_string(), c.column.clone()))
            == types.get(&("dv".to_string(), c.target_column.clone()));
        staged_print.push(fingerprint_part(&c.kind, c.precision, &column, same_type));
        target_print.push(fingerprint_part(
            &c.kind,
            c.precision,
            &target_column,
            same_type,
        ));
        let staged_raw = format!("s.{column}");
        let staged_value = if c.kind == "lookup" && remap {
            format!(
                "coalesce((SELECT g.target_guid FROM audit.guid_map g WHERE g.staged_guid = {staged_raw}), {staged_raw})"
            )
        } else {
            staged_raw.clone()
        };
        let s = normalised(&c.kind, c.precision, &staged_value);
        let mut d = normalised(&c.kind, c.precision, &format!("d.{target_column}"));
        if c.null_is_default {
            // Nothing was sent: whatever default Dataverse chose is right.
            d = format!("CASE WHEN {staged_raw} IS NULL THEN NULL ELSE {d} END");
        }
        select.push(format!("{s} AS s{i}"));
        select.push(format!("{d} AS d{i}"));
        differs.push(format!("{s} IS DISTINCT FROM {d}"));
    }
    let print = |parts: &[String]| {
        if parts.is_empty() {
            "0".to_string()
        } else {
            format!("hash({})", parts.join(", "))
        }
    };
    // MATERIALIZED: computed in the scans, so the join carries one hash
    // per row rather than every compared column.
    timed(&format!("{}: fingerprints", table.table), || {
        // generated per compared table: its key columns.
        Ok(conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE verify_keys AS
         WITH s AS MATERIALIZED (SELECT {pk} AS id, {staged} AS h FROM {stg}),
              d AS MATERIALIZED (SELECT {pk} AS id, {target} AS h FROM {dv})
         SELECT coalesce(s.id, d.id) AS id
         FROM s FULL OUTER JOIN d ON s.id = d.id
         WHERE s.h IS DISTINCT FROM d.h",
            staged = print(&staged_print),
            target = print(&target_print),
        ))?)
    })?;
    let mut filter = format!("s.{pk} IS NULL OR d.{pk} IS NULL");
    for d in &differs {
        filter.push_str(" OR ");
        filter.push_str(d);
    }
    timed(&format!("{}: exact comparison", table.table), || {
        // generated per compared table: its staged and read-back columns.
        Ok(conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE verify_pairs AS
         WITH s AS (SELECT * FROM {stg} WHERE {pk} IN (SELECT id FROM temp.verify_keys)),
              d AS (SELECT * FROM {dv} WHERE {pk} IN (SELECT id FROM temp.verify_keys))
         SELECT {select}
         FROM temp.verify_keys AS k
         LEFT JOIN s ON s.{pk} = k.id
         LEFT JOIN d ON d.{pk} = k.id
         WHERE {filter}",
            select = select.join(",\n                "),
        ))?)
    })?;
    timed(&format!("{}: differences", table.table), || {
        file_differences(conn, table, cols)
    })?;
    timed(&format!("{}: records", table.table), || {
        file_records(conn, table)
    })?;
    Ok(())
}

/// One `verify.differences` row per differing value of the records on
/// both sides.
fn file_differences(conn: &Connection, table: &ReadTable, cols: &[Compared]) -> Result<()> {
    if cols.is_empty() {
        return Ok(());
    }
    let parts: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            // Truncation: the target kept a leading part of the text (cut
            // to the column's max length, or by a client on the way).
            let kind = if c.kind == "text" {
                format!(
                    "CASE WHEN s{i} IS NOT NULL AND d{i} IS NOT NULL AND length(d{i}) < length(s{i}) AND starts_with(s{i}, d{i}) THEN 'truncated' ELSE 'differing' END"
                )
            } else {
                "'differing'".to_string()
            };
            format!(
                "SELECT id, record_id, ? AS column_name, {kind} AS kind, CAST(s{i} AS VARCHAR) AS staged_value, CAST(d{i} AS VARCHAR) AS target_value
                 FROM temp.verify_pairs WHERE in_stg AND in_dv AND s{i} IS DISTINCT FROM d{i}"
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO verify.differences
         SELECT ?, record_id, id, column_name, kind, staged_value, target_value
         FROM ({}) ORDER BY record_id, column_name",
        parts.join(" UNION ALL ")
    );
    let mut params: Vec<&str> = vec![table.table.as_str()];
    params.extend(cols.iter().map(|c| c.column.as_str()));
    conn.execute(&sql, duckdb::params_from_iter(params))?;
    Ok(())
}

/// `verify.records`: every record that is not a match, with its status.
fn file_records(conn: &Connection, table: &ReadTable) -> Result<()> {
    let t = table.table.as_str();
    // Records with differing values: differing wins over truncated.
    conn.execute(
        "INSERT INTO verify.records
         SELECT table_name, any_value(record_id), id,
                CASE WHEN bool_or(kind = 'differing') THEN 'differing' ELSE 'truncated' END,
                list(column_name ORDER BY column_name), NULL
         FROM verify.differences WHERE table_name = ? GROUP BY table_name, id",
        [t],
    )?;
    conn.execute(
        "INSERT INTO verify.records
         SELECT ?, record_id, id, 'unexpected', NULL,
                'in the target with a ferry record id, but not staged: loaded by another workspace or run, or its staged row was removed'
         FROM temp.verify_pairs WHERE in_dv AND NOT in_stg",
        [t],
    )?;
    // Staged, not in the target: missing only when a push (not rolled
    // back) recorded it as there; otherwise audit explains it.
    conn.execute(
        "INSERT INTO verify.records
         WITH only_staged AS (
             SELECT id, record_id FROM temp.verify_pairs WHERE in_stg AND NOT in_dv),
         rolled_back AS (
             SELECT rollback_of AS run_id FROM temp.target_runs
             WHERE kind = 'rollback' AND rollback_of IS NOT NULL),
         events AS (
             SELECT r.* FROM audit.records r JOIN only_staged o ON r.guid = o.id
             WHERE r.table_name = ? AND r.run_id IN (SELECT run_id FROM temp.target_runs)),
         pushed AS (
             SELECT guid, arg_max(operation || ' by push run ' || run_id, recorded_at) AS how
             FROM events
             WHERE step = 'records' AND operation IN ('created', 'updated', 'unchanged')
               AND run_id NOT IN (SELECT run_id FROM rolled_back)
             GROUP BY guid),
         last_event AS (
             SELECT guid,
                    arg_max(step || ' ' || operation || ' (run ' || run_id || ')'
                            || coalesce(': ' || message, ''), recorded_at) AS what
             FROM events GROUP BY guid)
         SELECT ?, o.record_id, o.id,
                CASE WHEN p.guid IS NOT NULL THEN 'missing' ELSE 'not_pushed' END,
                NULL,
                CASE WHEN p.guid IS NOT NULL THEN p.how || ', not in the target now'
                     ELSE coalesce(l.what, 'no push run sent it (a --sample or --only push, or staged after the last push)') END
         FROM only_staged o
         LEFT JOIN pushed p ON p.guid = o.id
         LEFT JOIN last_event l ON l.guid = o.id",
        [t, t],
    )?;
    Ok(())
}

/// `verify.columns` and `verify.tables` for one table, from the row
/// counts and the mismatches alone.
fn summarise_table(conn: &Connection, table: &ReadTable, cols: &[Compared]) -> Result<TableDiff> {
    let t = table.table.as_str();
    let count =
        |sql: &str| -> Result<u64> { Ok(conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64) };
    let staged = count(&format!("SELECT count(*) FROM {}", qualified("stg", t)))?;
    let target = count(&format!("SELECT count(*) FROM {}", qualified("dv", t)))?;
    let status_counts: BTreeMap<String, u64> = {
        let mut stmt = conn.prepare(
            "SELECT status, count(*) FROM verify.records WHERE table_name = ? GROUP BY status",
        )?;
        let rows = stmt.query_map([t], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        rows.collect::<std::result::Result<_, _>>()?
    };
    let n = |s: &str| status_counts.get(s).copied().unwrap_or(0);
    let unexpected = n("unexpected");
    let compared = target - unexpected;
    let out = TableDiff {
        table: t.to_string(),
        staged,
        target,
        compared,
        matched: compared - n("differing") - n("truncated"),
        differing: n("differing"),
        truncated: n("truncated"),
        missing: n("missing"),
        unexpected,
        not_pushed: n("not_pushed"),
    };
    conn.execute(
        "INSERT INTO verify.tables VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
        duckdb::params![
            out.table,
            out.staged as i64,
            out.target as i64,
            out.compared as i64,
            out.matched as i64,
            out.differing as i64,
            out.truncated as i64,
            out.missing as i64,
            out.unexpected as i64,
            out.not_pushed as i64
        ],
    )?;
    if !cols.is_empty() {
        conn.execute(
            "INSERT INTO verify.columns
             SELECT c.table_name, c.column_name, c.kind, c.target_column,
                    ?, ? - coalesce(d.differing, 0) - coalesce(d.truncated, 0),
                    coalesce(d.differing, 0), coalesce(d.truncated, 0), ?, ?, c.rule
             FROM dv.columns c
             LEFT JOIN (SELECT column_name,
                               count(DISTINCT id) FILTER (kind = 'differing') AS differing,
                               count(DISTINCT id) FILTER (kind = 'truncated') AS truncated
                        FROM verify.differences WHERE table_name = ? GROUP BY column_name) d
               USING (column_name)
             WHERE c.table_name = ?
             ORDER BY c.rowid",
            duckdb::params![
                compared as i64,
                compared as i64,
                out.missing as i64,
                unexpected as i64,
                t,
                t
            ],
        )?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny stg/dv pair: one match, one differing value, one truncated
    /// text, one missing, one not pushed, one unexpected; a staged null
    /// state the target filled with its default matches.
    fn fixture() -> Connection {
        let conn = crate::duck::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE SCHEMA stg; CREATE SCHEMA dv;
             CREATE TABLE stg.account (accountid UUID, st_record_id VARCHAR, name VARCHAR,
                 revenue DECIMAL(18,2), industrycode INTEGER, createdon_src TIMESTAMP, parentid UUID, statecode INTEGER);
             CREATE TABLE dv.account (accountid UUID, st_record_id VARCHAR, name VARCHAR,
                 revenue DECIMAL(38,10), industrycode BIGINT, createdon TIMESTAMP, parentid UUID, statecode BIGINT);
             INSERT INTO stg.account VALUES
               ('00000000-0000-0000-0000-000000000001', 'CUS-1', 'Acme ', 12.345, 3, '2024-05-01 13:00:00.4', NULL, NULL),
               ('00000000-0000-0000-0000-000000000002', 'CUS-2', 'Beta', 10, 1, '2024-05-01 13:00:00', NULL, 0),
               ('00000000-0000-0000-0000-000000000003', 'CUS-3', 'Gamma Industries', 10, 1, NULL, NULL, 0),
               ('00000000-0000-0000-0000-000000000004', 'CUS-4', 'Delta', 10, 1, NULL, NULL, 0),
               ('00000000-0000-0000-0000-000000000005', 'CUS-5', 'Epsilon', 10, 1, NULL, NULL, 0);
             INSERT INTO dv.account VALUES
               ('00000000-0000-0000-0000-000000000001', 'CUS-1', 'Acme', 12.3500000000, 3, '2024-05-01 13:00:00', NULL, 0),
               ('00000000-0000-0000-0000-000000000002', 'CUS-2', 'Beta', 10, 2, '2024-05-01 13:00:00', NULL, 0),
               ('00000000-0000-0000-0000-000000000003', 'CUS-3', 'Gamma Ind', 10, 1, NULL, NULL, 0),
               ('00000000-0000-0000-0000-000000000009', 'CUS-9', 'Stray', 10, 1, NULL, NULL, 0);",
        )
        .unwrap();
        crate::push::audit::ensure(&conn).unwrap();
        conn.execute_batch(
            "INSERT INTO audit.runs (run_id, kind, target, started_at, status) VALUES (1, 'push', 'x', now()::TIMESTAMP, 'finished');
             INSERT INTO audit.records (run_id, step, table_name, record_id, guid, operation, recorded_at) VALUES
               (1, 'records', 'account', 'CUS-4', '00000000-0000-0000-0000-000000000004', 'created', now()::TIMESTAMP),
               (1, 'records', 'account', 'CUS-5', '00000000-0000-0000-0000-000000000005', 'failed', now()::TIMESTAMP);",
        )
        .unwrap();
        conn.execute_batch(super::super::readback::dv_ddl())
            .unwrap();
        conn.execute_batch(
            "INSERT INTO dv.read_backs VALUES ('account', 'accounts', 4, now()::TIMESTAMP, 'accountid', 'st_record_id');
             INSERT INTO dv.columns VALUES
               ('account', 'st_record_id', 'text', NULL, 100, 'st_record_id', false, NULL),
               ('account', 'name', 'text', NULL, 9, 'name', false, NULL),
               ('account', 'revenue', 'number', 2, NULL, 'revenue', false, NULL),
               ('account', 'industrycode', 'integer', NULL, NULL, 'industrycode', false, NULL),
               ('account', 'createdon_src', 'datetime', NULL, NULL, 'createdon', false, 'moved'),
               ('account', 'parentid', 'lookup', NULL, NULL, 'parentid', false, NULL),
               ('account', 'statecode', 'integer', NULL, NULL, 'statecode', true, 'default');",
        )
        .unwrap();
        conn
    }

    #[test]
    fn every_record_is_classified_once_and_normalisation_hides_only_dataverse_behaviour() {
        let conn = fixture();
        let summary = diff(&conn, &VerifySql::builtin()).unwrap();
        let t = &summary.tables[0];
        assert_eq!(
            (t.staged, t.target, t.compared, t.matched),
            (5, 4, 3, 1),
            "{t:?}"
        );
        assert_eq!(
            (
                t.differing,
                t.truncated,
                t.missing,
                t.unexpected,
                t.not_pushed
            ),
            (1, 1, 1, 1, 1),
            "{t:?}"
        );
        let mut stmt = conn
            .prepare("SELECT record_id, column_name, kind, staged_value, target_value FROM verify.differences ORDER BY record_id")
            .unwrap();
        let rows: Vec<(String, String, String, String, String)> = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "CUS-2".into(),
                    "industrycode".into(),
                    "differing".into(),
                    "1".into(),
                    "2".into()
                ),
                (
                    "CUS-3".into(),
                    "name".into(),
                    "truncated".into(),
                    "Gamma Industries".into(),
                    "Gamma Ind".into()
                ),
            ]
        );
        let status: String = conn
            .query_row(
                "SELECT string_agg(record_id || '=' || status, ',' ORDER BY record_id) FROM verify.records",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            status,
            "CUS-2=differing,CUS-3=truncated,CUS-4=missing,CUS-5=not_pushed,CUS-9=unexpected"
        );
        let name: (i64, i64, i64) = conn
            .query_row(
                "SELECT matched, truncated, missing FROM verify.columns WHERE column_name = 'name'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(name, (2, 1, 1));
        assert_eq!(summary.problems(), 4);
    }

    #[test]
    fn a_rolled_back_run_does_not_make_a_record_missing() {
        let conn = fixture();
        conn.execute_batch(
            "INSERT INTO audit.runs (run_id, kind, rollback_of, target, started_at, status) VALUES (2, 'rollback', 1, 'x', now()::TIMESTAMP, 'finished');",
        )
        .unwrap();
        let summary = diff(&conn, &VerifySql::builtin()).unwrap();
        assert_eq!(summary.tables[0].missing, 0);
        assert_eq!(summary.tables[0].not_pushed, 2);
    }

    #[test]
    fn parties_compare_as_sets_and_the_owner_party_dataverse_adds_is_allowed_for() {
        let conn = crate::duck::open_in_memory().unwrap();
        let call = "00000000-0000-0000-0000-0000000000a1";
        let contact = "00000000-0000-0000-0000-0000000000c1";
        let other = "00000000-0000-0000-0000-0000000000c2";
        let user = "00000000-0000-0000-0000-0000000000e1";
        conn.execute_batch(&format!(
            "CREATE SCHEMA stg; CREATE SCHEMA dv;
             CREATE TABLE stg.phonecall (activityid UUID, st_record_id VARCHAR, subject VARCHAR);
             CREATE TABLE dv.phonecall AS SELECT * FROM stg.phonecall;
             INSERT INTO stg.phonecall VALUES ('{call}', 'ACT-1', 'Call');
             INSERT INTO dv.phonecall VALUES ('{call}', 'ACT-1', 'Call');
             CREATE TABLE stg.activityparty (activityid UUID, activityid_table VARCHAR, participationtypemask INTEGER,
                 partyid UUID, partyid_table VARCHAR, _party_email VARCHAR);
             INSERT INTO stg.activityparty VALUES
               ('{call}', 'phonecall', 1, NULL, 'systemuser', 'Tech@Example.com'),
               ('{call}', 'phonecall', 2, '{contact}', 'contact', NULL);
             CREATE TABLE dv.systemuser (systemuserid UUID, internalemailaddress VARCHAR, fullname VARCHAR, isdisabled BOOLEAN);
             INSERT INTO dv.systemuser VALUES ('{user}', 'tech@example.com', 'Tech', false);
             CREATE TABLE dv.activityparty (activitypartyid UUID, activityid UUID, activityid_table VARCHAR,
                 participationtypemask BIGINT, partyid UUID, partyid_table VARCHAR);
             INSERT INTO dv.activityparty VALUES
               (gen_random_uuid(), '{call}', 'phonecall', 1, '{user}', 'systemuser'),
               (gen_random_uuid(), '{call}', 'phonecall', 2, '{other}', 'contact'),
               (gen_random_uuid(), '{call}', 'phonecall', 9, '{user}', 'systemuser');"
        ))
        .unwrap();
        conn.execute_batch(super::super::readback::dv_ddl())
            .unwrap();
        conn.execute_batch(
            "INSERT INTO dv.read_backs VALUES ('phonecall', 'phonecalls', 1, now()::TIMESTAMP, 'activityid', 'st_record_id');
             INSERT INTO dv.columns VALUES
               ('phonecall', 'subject', 'text', NULL, 200, 'subject', false, NULL),
               ('phonecall', 'activityparty', 'party', NULL, NULL, 'activityparty', false, 'parties');",
        )
        .unwrap();
        let summary = diff(&conn, &VerifySql::builtin()).unwrap();
        assert_eq!(summary.tables[0].differing, 1, "{:?}", summary.tables[0]);
        let mut stmt = conn
            .prepare("SELECT column_name, staged_value, target_value FROM verify.differences ORDER BY staged_value NULLS LAST")
            .unwrap();
        let rows: Vec<(String, Option<String>, Option<String>)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        // The technician arrived as their user, the owner party is the
        // platform's; only the swapped contact differs.
        assert_eq!(
            rows,
            [
                (
                    "activityparty".to_string(),
                    Some(format!("2 contact {contact}")),
                    None
                ),
                (
                    "activityparty".to_string(),
                    None,
                    Some(format!("2 contact {other}"))
                ),
            ]
        );
        let matched: (i64, i64) = conn
            .query_row(
                "SELECT matched, differing FROM verify.columns WHERE column_name = 'activityparty'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(matched, (0, 1));
    }
}
