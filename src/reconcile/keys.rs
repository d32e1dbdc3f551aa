//! The long, uniform tables the reconcile SQL works from, generated from
//! the catalogue because their sources are one table per object or per
//! target table (`raw.<object>_current`, `stg.<table>`, `dv.<table>`).
//!
//! Everything built here is identifiers only (quoted) and constants ferry
//! defines; no data value is spliced into SQL (SPEC §4). Once these exist,
//! the counting, the checks and the distributions are plain SQL in
//! `sql/reconcile/`, which an analyst can read and edit.

use std::collections::{BTreeMap, BTreeSet};

use duckdb::Connection;

use crate::dataverse::schema::Schema;
use crate::error::Result;
use crate::plan::steps::{self, Kind, INLINE_TABLES};
use crate::stage::db::{constant_literal, qualified, quote_ident, relation_exists, table_columns};

/// How many pushed records per table the spot check compares, and the seed
/// that picks them (the same records on every run over the same data).
pub const SPOT_CHECK_SIZE: usize = 10;
pub const SPOT_CHECK_SEED: u64 = 8;

/// One staged table as reconcile sees it.
#[derive(Debug, Clone)]
pub struct StagedTable {
    pub table: String,
    /// `record`, `link` (an N:N intersect) or `inline` (sent inside
    /// another record: activity parties).
    pub sent_as: &'static str,
    /// The key column(s): the primary id, or both sides of a link.
    pub key: String,
    pub related_key: Option<String>,
    pub columns: Vec<(String, String)>,
}

/// The staged tables with their keys, the way the loader addresses them.
pub fn staged_tables(conn: &Connection, schema: &Schema) -> Result<Vec<StagedTable>> {
    let columns = steps::staged_columns(conn)?;
    let links: BTreeMap<String, (String, String)> = schema
        .many_to_many()
        .iter()
        .map(|m| (m.name.clone(), (m.table1.clone(), m.table2.clone())))
        .collect();
    let primary_of = |table: &str, cols: &[(String, String)]| -> String {
        schema
            .table(table)
            .map(|t| t.primary_id.clone())
            .filter(|id| cols.iter().any(|(c, _)| c == id))
            .unwrap_or_else(|| cols.first().map(|(c, _)| c.clone()).unwrap_or_default())
    };
    let mut out = Vec::new();
    for (table, cols) in columns {
        if let Some((one, two)) = links.get(&table) {
            let id = |t: &str| schema.table(t).map(|d| d.primary_id.clone());
            if let (Some(a), Some(b)) = (id(one), id(two)) {
                if a != b && cols.iter().any(|(c, _)| *c == a) && cols.iter().any(|(c, _)| *c == b)
                {
                    out.push(StagedTable {
                        table,
                        sent_as: "link",
                        key: a,
                        related_key: Some(b),
                        columns: cols,
                    });
                    continue;
                }
            }
        }
        let sent_as = if INLINE_TABLES.contains(&table.as_str()) {
            "inline"
        } else {
            "record"
        };
        out.push(StagedTable {
            key: primary_of(&table, &cols),
            table,
            sent_as,
            related_key: None,
            columns: cols,
        });
    }
    Ok(out)
}

/// `reconcile.source_records(object, record_id)`: every current source
/// record of every staged object (`raw.<object>_current`).
pub fn build_source_records(conn: &Connection) -> Result<()> {
    let objects: Vec<String> = {
        let mut stmt = conn.prepare(
            "SELECT DISTINCT object FROM meta.extract_objects WHERE object NOT LIKE '\\_%' ESCAPE '\\' ORDER BY 1",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect::<std::result::Result<_, _>>()?
    };
    let mut parts = Vec::new();
    for object in objects {
        let view = format!("{object}_current");
        if !relation_exists(conn, "raw", &view)? {
            continue;
        }
        parts.push(format!(
            "SELECT {} AS object, CAST(id AS VARCHAR) AS record_id FROM {}",
            constant_literal(&object),
            qualified("raw", &view)
        ));
    }
    create_union(
        conn,
        "source_records",
        parts,
        "SELECT NULL::VARCHAR AS object, NULL::VARCHAR AS record_id WHERE false",
    )
}

/// `reconcile.staged_records`: one row per staged row, keyed as the
/// loader keys it (`guid`, and `related_guid` for a link; `parent_guid`
/// for a row sent inside another record).
pub fn build_staged_records(conn: &Connection, tables: &[StagedTable], prefix: &str) -> Result<()> {
    let record_id = format!("{prefix}_record_id");
    let mut parts = Vec::new();
    for t in tables {
        let has = |c: &str| t.columns.iter().any(|(name, _)| name == c);
        let related = match &t.related_key {
            Some(k) => format!("TRY_CAST(s.{} AS UUID)", quote_ident(k)),
            None => "NULL::UUID".to_string(),
        };
        // A row sent inside another record names that record through its
        // first lookup (an activity party's activityid).
        let parent = match t.sent_as {
            "inline" => t
                .columns
                .iter()
                .find(|(c, _)| has(&format!("{c}_table")))
                .map(|(c, _)| format!("TRY_CAST(s.{} AS UUID)", quote_ident(c))),
            _ => None,
        }
        .unwrap_or_else(|| "NULL::UUID".to_string());
        parts.push(format!(
            "SELECT {table} AS target_table, {object} AS source_object, {rid} AS record_id,
                    TRY_CAST(s.{key} AS UUID) AS guid, {related} AS related_guid, {sent} AS sent_as,
                    {base} AS base_unit, {parent} AS parent_guid
             FROM {from} AS s",
            table = constant_literal(&t.table),
            object = if has("_source_object") {
                "CAST(s._source_object AS VARCHAR)".to_string()
            } else {
                "NULL::VARCHAR".to_string()
            },
            rid = if has(&record_id) {
                format!("CAST(s.{} AS VARCHAR)", quote_ident(&record_id))
            } else {
                "NULL::VARCHAR".to_string()
            },
            key = quote_ident(&t.key),
            sent = constant_literal(t.sent_as),
            base = if has("_is_base_unit") {
                "coalesce(s._is_base_unit, false)"
            } else {
                "false"
            },
            from = qualified("stg", &t.table),
        ));
    }
    create_union(
        conn,
        "staged_records",
        parts,
        "SELECT NULL::VARCHAR AS target_table, NULL::VARCHAR AS source_object, NULL::VARCHAR AS record_id,
                NULL::UUID AS guid, NULL::UUID AS related_guid, NULL::VARCHAR AS sent_as, false AS base_unit,
                NULL::UUID AS parent_guid WHERE false",
    )
}

/// `reconcile.target_records` (what the read-back found, keyed like
/// `staged_records`) and `reconcile.read_tables` (which staged tables were
/// read back at all, and when).
pub fn build_target_records(conn: &Connection, tables: &[StagedTable], prefix: &str) -> Result<()> {
    let record_id = format!("{prefix}_record_id");
    let has_read_backs = relation_exists(conn, "dv", "read_backs")?;
    let read: BTreeSet<String> = if has_read_backs {
        let mut stmt = conn.prepare("SELECT DISTINCT table_name FROM dv.read_backs")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect::<std::result::Result<_, _>>()?
    } else {
        BTreeSet::new()
    };
    let mut parts = Vec::new();
    let mut read_rows = Vec::new();
    for t in tables {
        let dv_columns: BTreeSet<String> = table_columns(conn, "dv", &t.table)?
            .into_iter()
            .map(|c| c.name)
            .collect();
        let keys_present = dv_columns.contains(&t.key)
            && t.related_key
                .as_ref()
                .is_none_or(|k| dv_columns.contains(k));
        let was_read = read.contains(&t.table) && keys_present;
        read_rows.push(format!(
            "SELECT {} AS target_table, {was_read} AS read_back",
            constant_literal(&t.table),
        ));
        if !was_read {
            continue;
        }
        let related = match &t.related_key {
            Some(k) => format!("TRY_CAST(d.{} AS UUID)", quote_ident(k)),
            None => "NULL::UUID".to_string(),
        };
        let rid = if dv_columns.contains(&record_id) {
            format!("CAST(d.{} AS VARCHAR)", quote_ident(&record_id))
        } else {
            "NULL::VARCHAR".to_string()
        };
        parts.push(format!(
            "SELECT {table} AS target_table, TRY_CAST(d.{key} AS UUID) AS guid, {related} AS related_guid, {rid} AS record_id
             FROM {from} AS d",
            table = constant_literal(&t.table),
            key = quote_ident(&t.key),
            from = qualified("dv", &t.table),
        ));
    }
    create_union(
        conn,
        "target_records",
        parts,
        "SELECT NULL::VARCHAR AS target_table, NULL::UUID AS guid, NULL::UUID AS related_guid, NULL::VARCHAR AS record_id WHERE false",
    )?;
    create_union(
        conn,
        "read_tables",
        read_rows,
        "SELECT NULL::VARCHAR AS target_table, false AS read_back WHERE false",
    )?;
    // When each table was read, joined rather than written into the SQL.
    let read_at = if has_read_backs {
        "(SELECT table_name, max(read_at) AS read_at FROM dv.read_backs GROUP BY 1)"
    } else {
        "(SELECT NULL::VARCHAR AS table_name, NULL::TIMESTAMP AS read_at WHERE false)"
    };
    // generated per database: joins dv.read_backs only when a read-back exists.
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TABLE reconcile.read_tables AS
         SELECT t.target_table, t.read_back, CASE WHEN t.read_back THEN r.read_at END AS read_at
         FROM reconcile.read_tables AS t
         LEFT JOIN {read_at} AS r ON r.table_name = t.target_table"
    ))?;
    Ok(())
}

/// `reconcile.option_records`: for every option-set translation in
/// `map.optionset` (source object and field → target table and column),
/// each staged row of that table with its source value (read from
/// `raw.<object>_current`, not from the transform's output), the value
/// the mapping file translates it to (`translated_value`, NULL when the
/// file has no line for it), the staged value and the value the target
/// holds. A translation whose target column is not a staged column
/// (`activitytypecode`: the table itself is the value) takes the mapped
/// value as both staged and, for rows read back, target value.
pub fn build_option_records(conn: &Connection, tables: &[StagedTable], prefix: &str) -> Result<()> {
    let empty = "SELECT NULL::VARCHAR AS source_object, NULL::VARCHAR AS source_field, NULL::VARCHAR AS target_table,
                        NULL::VARCHAR AS target_column, NULL::VARCHAR AS record_id, NULL::UUID AS guid,
                        NULL::VARCHAR AS source_value, NULL::BIGINT AS translated_value,
                        NULL::BIGINT AS staged_value, false AS implied,
                        false AS read_back, NULL::BIGINT AS target_value WHERE false";
    if !relation_exists(conn, "map", "optionset")? {
        return create_union(conn, "option_records", Vec::new(), empty);
    }
    // The translations are numbered in a table of their own, so each
    // generated query names its translation by number and reads the names
    // from there (identifiers go into the SQL quoted, values never).
    conn.execute_batch(crate::sql_catalog::schema_sql(
        "reconcile",
        "option_mappings",
    ))?;
    let mappings: Vec<(i64, String, String, String, String)> = {
        let mut stmt = conn.prepare(
            "SELECT mapping_no, source_object, source_field, target_table, target_column
             FROM reconcile.option_mappings ORDER BY mapping_no",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
        rows.collect::<std::result::Result<_, _>>()?
    };
    let record_id = format!("{prefix}_record_id");
    let by_name: BTreeMap<&str, &StagedTable> = tables
        .iter()
        .filter(|t| t.sent_as == "record")
        .map(|t| (t.table.as_str(), t))
        .collect();
    let mut parts = Vec::new();
    for (mapping_no, object, field, table, column) in mappings {
        let Some(t) = by_name.get(table.as_str()) else {
            continue;
        };
        let raw_view = format!("{object}_current");
        let raw_columns: BTreeSet<String> = table_columns(conn, "raw", &raw_view)?
            .into_iter()
            .map(|c| c.name)
            .collect();
        if !raw_columns.contains(&field) || !raw_columns.contains("id") {
            continue;
        }
        let staged_has = |c: &str| t.columns.iter().any(|(name, _)| name == c);
        if !staged_has(&record_id) || !staged_has("_source_object") {
            continue;
        }
        let dv_columns: BTreeSet<String> = table_columns(conn, "dv", &table)?
            .into_iter()
            .map(|c| c.name)
            .collect();
        let read_back = dv_columns.contains(&t.key);
        let implied = !staged_has(&column);
        let staged_value = if implied {
            "m.target_value".to_string()
        } else {
            format!("TRY_CAST(s.{} AS BIGINT)", quote_ident(&column))
        };
        let target_value = match (read_back, implied, dv_columns.contains(&column)) {
            (false, _, _) => "NULL::BIGINT".to_string(),
            (true, true, _) => "CASE WHEN d.k IS NOT NULL THEN m.target_value END".to_string(),
            (true, false, true) => format!("TRY_CAST(d.{} AS BIGINT)", quote_ident(&column)),
            (true, false, false) => "NULL::BIGINT".to_string(),
        };
        let dv_join = if read_back {
            format!(
                "LEFT JOIN (SELECT *, TRY_CAST({key} AS UUID) AS k FROM {dv}) AS d ON d.k = TRY_CAST(s.{key} AS UUID)",
                key = quote_ident(&t.key),
                dv = qualified("dv", &table)
            )
        } else {
            "LEFT JOIN (SELECT NULL::UUID AS k) AS d ON false".to_string()
        };
        parts.push(format!(
            "SELECT p.source_object, p.source_field, p.target_table, p.target_column,
                    CAST(s.{rid} AS VARCHAR) AS record_id, TRY_CAST(s.{key} AS UUID) AS guid,
                    CAST(r.{field_q} AS VARCHAR) AS source_value, m.target_value AS translated_value,
                    {staged_value} AS staged_value,
                    {implied} AS implied, d.k IS NOT NULL AS read_back, {target_value} AS target_value
             FROM reconcile.option_mappings AS p
             JOIN {stg} AS s ON s._source_object = p.source_object
             JOIN {raw} AS r ON CAST(r.id AS VARCHAR) = CAST(s.{rid} AS VARCHAR)
             LEFT JOIN map.optionset AS m
                    ON m.source_object = p.source_object AND m.source_field = p.source_field
                   AND m.target_table = p.target_table AND m.target_column = p.target_column
                   AND m.source_value = trim(CAST(r.{field_q} AS VARCHAR))
             {dv_join}
             WHERE p.mapping_no = {mapping_no}",
            rid = quote_ident(&record_id),
            key = quote_ident(&t.key),
            field_q = quote_ident(&field),
            stg = qualified("stg", &table),
            raw = qualified("raw", &raw_view),
        ));
    }
    create_union(conn, "option_records", parts, empty)
}

/// `reconcile.spot_values`: a seeded sample of pushed records per read
/// table, every compared column side by side as normalised text, and
/// whether the two agree. Which columns, their kind and the target column
/// each is compared with come from `dv.columns` (written by the
/// read-back, including `verify.rules` such as overriddencreatedon →
/// createdon); the normalisation is the one `sql/verify/normalise.sql`
/// describes: trimmed text with empty = null, integers, numbers at the
/// target's precision, instants in UTC to the second, dates, lookups by
/// GUID.
pub fn build_spot_values(conn: &Connection, tables: &[StagedTable]) -> Result<()> {
    let empty = "SELECT NULL::VARCHAR AS target_table, NULL::VARCHAR AS record_id, NULL::UUID AS guid,
                        NULL::INTEGER AS position, NULL::VARCHAR AS column_name, NULL::VARCHAR AS target_column,
                        NULL::VARCHAR AS kind, NULL::VARCHAR AS staged_value,
                        NULL::VARCHAR AS target_value WHERE false";
    if !relation_exists(conn, "dv", "columns")? {
        return create_union(conn, "spot_values", Vec::new(), empty);
    }
    type PlannedColumn = (String, String, String, Option<i32>);
    let mut planned: BTreeMap<String, Vec<PlannedColumn>> = BTreeMap::new();
    {
        let mut stmt = conn.prepare(
            "SELECT table_name, column_name, target_column, kind, precision FROM dv.columns ORDER BY table_name, rowid",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?),
            ))
        })?;
        for row in rows {
            let (table, column) = row?;
            planned.entry(table).or_default().push(column);
        }
    }
    let remap = relation_exists(conn, "audit", "guid_map")?;
    let mut parts = Vec::new();
    for t in tables.iter().filter(|t| t.sent_as == "record") {
        let Some(columns) = planned.get(&t.table) else {
            continue;
        };
        let dv_columns: BTreeSet<String> = table_columns(conn, "dv", &t.table)?
            .into_iter()
            .map(|c| c.name)
            .collect();
        if !dv_columns.contains(&t.key) {
            continue;
        }
        let staged_columns: BTreeSet<&str> = t.columns.iter().map(|(c, _)| c.as_str()).collect();
        let mut values = Vec::new();
        for (position, (column, target_column, kind, precision)) in columns.iter().enumerate() {
            if !staged_columns.contains(column.as_str()) || !dv_columns.contains(target_column) {
                continue;
            }
            let kind = kind_from_name(kind);
            values.push(format!(
                "({position}, {column_l}, {target_l}, {kind_l}, {staged}, {target})",
                column_l = constant_literal(column),
                target_l = constant_literal(target_column),
                kind_l = constant_literal(kind.1),
                staged = if kind.0 == Kind::Lookup && remap {
                    // A lookup to a record Dataverse created under its own
                    // id (a unit group's base unit) holds that id.
                    let staged = format!("TRY_CAST(s.{} AS UUID)", quote_ident(column));
                    normalised(
                        &format!("coalesce((SELECT max(g.target_guid) FROM audit.guid_map AS g WHERE g.staged_guid = {staged}), {staged})"),
                        &kind.0,
                        *precision,
                    )
                } else {
                    normalised(&format!("s.{}", quote_ident(column)), &kind.0, *precision)
                },
                target = normalised(&format!("d.{}", quote_ident(target_column)), &kind.0, *precision),
            ));
        }
        if values.is_empty() {
            continue;
        }
        parts.push(format!(
            "SELECT {table} AS target_table, p.record_id, p.guid, v.position, v.column_name, v.target_column,
                    v.kind, v.staged_value, v.target_value
             FROM reconcile.spot_sample AS p
             JOIN {stg} AS s ON TRY_CAST(s.{key} AS UUID) = p.guid
             JOIN {dv} AS d ON TRY_CAST(d.{key} AS UUID) = p.target_guid,
             LATERAL (VALUES {values}) AS v(position, column_name, target_column, kind, staged_value, target_value)
             WHERE p.target_table = {table}",
            table = constant_literal(&t.table),
            stg = qualified("stg", &t.table),
            dv = qualified("dv", &t.table),
            key = quote_ident(&t.key),
            values = values.join(",\n                   "),
        ));
    }
    create_union(conn, "spot_values", parts, empty)
}

fn kind_from_name(name: &str) -> (Kind, &'static str) {
    match name {
        "integer" => (Kind::Integer, "integer"),
        "number" => (Kind::Number, "number"),
        "boolean" => (Kind::Boolean, "boolean"),
        "datetime" => (Kind::DateTime, "datetime"),
        "dateonly" => (Kind::DateOnly, "dateonly"),
        "lookup" => (Kind::Lookup, "lookup"),
        _ => (Kind::Text, "text"),
    }
}

/// One value as comparable text, the same way on both sides.
fn normalised(expr: &str, kind: &Kind, precision: Option<i32>) -> String {
    match kind {
        Kind::Text => format!("nullif(trim(CAST({expr} AS VARCHAR)), '')"),
        Kind::Integer => format!("CAST(TRY_CAST({expr} AS BIGINT) AS VARCHAR)"),
        Kind::Number => format!(
            "CAST(round(TRY_CAST({expr} AS DECIMAL(38, 10)), {}) AS VARCHAR)",
            precision.unwrap_or(4).clamp(0, 10)
        ),
        Kind::Boolean => format!("CAST(TRY_CAST({expr} AS BOOLEAN) AS VARCHAR)"),
        Kind::DateTime => format!(
            "strftime(date_trunc('second', TRY_CAST({expr} AS TIMESTAMP) + INTERVAL 500 MILLISECOND), '%Y-%m-%d %H:%M:%S')"
        ),
        Kind::DateOnly => format!("CAST(TRY_CAST(TRY_CAST({expr} AS TIMESTAMP) AS DATE) AS VARCHAR)"),
        Kind::Lookup => format!("CAST(TRY_CAST({expr} AS UUID) AS VARCHAR)"),
    }
}

/// `reconcile.<name>` as the union of `parts` (or `empty`'s shape).
fn create_union(conn: &Connection, name: &str, parts: Vec<String>, empty: &str) -> Result<()> {
    let body = if parts.is_empty() {
        empty.to_string()
    } else {
        parts.join("\nUNION ALL BY NAME\n")
    };
    // generated per key table: one UNION arm per staged object or table.
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TABLE {} AS {body}",
        qualified("reconcile", name)
    ))?;
    Ok(())
}

/// `reconcile.spot_sample`: up to [`SPOT_CHECK_SIZE`] records per table,
/// picked by a hash of their GUID and [`SPOT_CHECK_SEED`] among the staged
/// records the read-back found (records Dataverse created under its own id
/// are found through `audit.guid_map`).
pub fn build_spot_sample(conn: &Connection) -> Result<()> {
    let guid_map = if relation_exists(conn, "audit", "guid_map")? {
        "audit.guid_map"
    } else {
        "(SELECT NULL::VARCHAR AS table_name, NULL::UUID AS staged_guid, NULL::UUID AS target_guid WHERE false)"
    };
    // generated per database: joins audit.guid_map only when it exists.
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TABLE reconcile.spot_sample AS
         SELECT target_table, record_id, guid, target_guid, pick AS position
         FROM (
             SELECT s.target_table, s.record_id, s.guid, t.guid AS target_guid,
                    row_number() OVER (PARTITION BY s.target_table
                                       ORDER BY hash(CAST(s.guid AS VARCHAR) || ':{SPOT_CHECK_SEED}'), s.guid) AS pick
             FROM reconcile.staged_records AS s
             LEFT JOIN {guid_map} AS g ON g.table_name = s.target_table AND g.staged_guid = s.guid
             JOIN reconcile.target_records AS t
               ON t.target_table = s.target_table AND t.guid = coalesce(g.target_guid, s.guid)
             WHERE s.sent_as = 'record'
         )
         WHERE pick <= {SPOT_CHECK_SIZE}"
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both sides of a spot check through the same normalisation, in DuckDB.
    fn same(staged: &str, target: &str, kind: Kind, precision: Option<i32>) -> bool {
        let conn = crate::duck::open_in_memory().unwrap();
        let sql = format!(
            "SELECT {} IS NOT DISTINCT FROM {} FROM (SELECT {staged} AS s, {target} AS t)",
            normalised("s", &kind, precision),
            normalised("t", &kind, precision)
        );
        conn.query_row(&sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn values_dataverse_stores_differently_still_compare_equal() {
        assert!(same("'  Acme '", "'Acme'", Kind::Text, None));
        assert!(same("''", "NULL", Kind::Text, None), "empty text is null");
        assert!(!same("'Acme'", "'ACME'", Kind::Text, None));
        assert!(same(
            "TIMESTAMP '2025-06-15 20:11:34.4'",
            "'2025-06-15 20:11:34'",
            Kind::DateTime,
            None
        ));
        assert!(!same(
            "TIMESTAMP '2025-06-15 20:11:34'",
            "'2025-06-15 20:11:35'",
            Kind::DateTime,
            None
        ));
        assert!(same(
            "12.3449::DECIMAL(19,4)",
            "'12.34'",
            Kind::Number,
            Some(2)
        ));
        assert!(!same(
            "12.35::DECIMAL(19,4)",
            "'12.34'",
            Kind::Number,
            Some(2)
        ));
        assert!(same(
            "'3AAA8D2A-262F-505B-B2AA-649F69508FF3'::UUID",
            "'3aaa8d2a-262f-505b-b2aa-649f69508ff3'",
            Kind::Lookup,
            None
        ));
        assert!(same(
            "DATE '2024-02-29'",
            "'2024-02-29T00:00:00Z'",
            Kind::DateOnly,
            None
        ));
        assert!(same("1", "'1'", Kind::Integer, None));
        assert!(same("true", "'true'", Kind::Boolean, None));
    }
}
