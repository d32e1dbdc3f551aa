//! The staging database `ferry.duckdb`: opening it, the schemas every
//! command may rely on, and the few helpers that build SQL text safely.
//!
//! Identifiers (table and column names) in ServiceTracker data are partly
//! chosen by the source's users (custom fields), so every identifier that
//! reaches SQL text goes through [`quote_ident`]. Data values never reach SQL
//! text at all: they are bound parameters or rows of a table (SPEC §4).

use std::path::Path;
use std::sync::Arc;

use duckdb::arrow::array::{ArrayRef, AsArray, RecordBatch};
use duckdb::arrow::datatypes::{
    DataType, Schema, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use duckdb::arrow::error::ArrowError;
use duckdb::Connection;

use crate::error::{Error, Result};
use crate::workspace::Workspace;

/// Schemas that exist in every staging database ferry opened.
const SCHEMAS: &[&str] = &["raw", "meta"];

/// Opens (creating if needed) the workspace's staging database and makes
/// sure the `raw` and `meta` schemas exist.
///
/// A database locked by another process (another ferry command, or the DuckDB
/// CLI holding it open) is reported as a plain configuration error (exit 2).
pub fn open_database(ws: &Workspace) -> Result<Connection> {
    let path = ws.database_path();
    let conn = open_at(&path)?;
    for schema in SCHEMAS {
        // generated per schema of SCHEMAS (raw, meta): the list open_database guarantees.
        conn.execute_batch(&format!(
            "CREATE SCHEMA IF NOT EXISTS {}",
            quote_ident(schema)
        ))?;
    }
    Ok(conn)
}

/// Opens the staging database only if it exists, so read-only commands
/// (`report`) never leave an empty `ferry.duckdb` behind.
pub fn open_existing_database(ws: &Workspace) -> Result<Option<Connection>> {
    if !ws.database_path().is_file() {
        return Ok(None);
    }
    open_database(ws).map(Some)
}

fn open_at(path: &Path) -> Result<Connection> {
    crate::duck::open(path).map_err(|err| {
        let message = err.to_string();
        if is_lock_conflict(&message) {
            Error::input(
                path,
                format!("the staging database is in use by another process ({})", first_line(&message)),
                "close the other ferry command or DuckDB session that has ferry.duckdb open, then run this again",
            )
        } else {
            Error::input(
                path,
                format!("cannot open the staging database: {}", first_line(&message)),
                "check that the file is a DuckDB database written by this ferry version; if it is damaged, delete it and run `ferry stage` again (the landing zone still holds every extract)",
            )
        }
    })
}

fn is_lock_conflict(message: &str) -> bool {
    message.contains("Could not set lock") || message.contains("Conflicting lock")
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message).trim()
}

/// Quotes an identifier for DuckDB: wrapped in `"`, inner `"` doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `schema."table"` with both parts quoted.
pub fn qualified(schema: &str, table: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(table))
}

/// A SQL string literal for a constant that ferry itself defines (a regular
/// expression, a date). Never use it for data values: bind those instead.
pub(crate) fn constant_literal(constant: &str) -> String {
    format!("'{}'", constant.replace('\'', "''"))
}

/// Whether `schema.table` exists (table or view).
pub(crate) fn relation_exists(conn: &Connection, schema: &str, table: &str) -> Result<bool> {
    let count: i64 = conn.query_row(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, table],
        |row| row.get(0),
    )?;
    Ok(count > 0)
}

/// A column of a table as DuckDB reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnType {
    pub name: String,
    /// DuckDB's type name, e.g. `VARCHAR`, `DECIMAL(19,4)`.
    pub data_type: String,
}

/// The columns of `schema.table` in table order (empty if it does not exist).
pub(crate) fn table_columns(
    conn: &Connection,
    schema: &str,
    table: &str,
) -> Result<Vec<ColumnType>> {
    let mut stmt = conn.prepare(
        "SELECT column_name, data_type FROM duckdb_columns() \
         WHERE schema_name = ? AND table_name = ? AND database_name = current_database() \
         ORDER BY column_index",
    )?;
    let rows = stmt.query_map([schema, table], |row| {
        Ok(ColumnType {
            name: row.get(0)?,
            data_type: row.get(1)?,
        })
    })?;
    Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
}

/// Makes DuckDB's Arrow output printable by arrow's own formatters.
///
/// DuckDB labels `TIMESTAMP WITH TIME ZONE` columns with the zone *name*
/// `UTC`, which arrow can only format with its optional time-zone database;
/// the instants are UTC either way, so such columns are relabelled with the
/// equivalent offset `+00:00`. Everything else passes through untouched.
pub fn printable_batch(batch: &RecordBatch) -> std::result::Result<RecordBatch, ArrowError> {
    let needs_relabel =
        |dt: &DataType| matches!(dt, DataType::Timestamp(_, Some(tz)) if is_utc_name(tz));
    if !batch
        .schema()
        .fields()
        .iter()
        .any(|f| needs_relabel(f.data_type()))
    {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if needs_relabel(field.data_type()) {
            let relabelled = relabel_utc(column);
            fields.push(
                field
                    .as_ref()
                    .clone()
                    .with_data_type(relabelled.data_type().clone()),
            );
            columns.push(relabelled);
        } else {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

fn is_utc_name(tz: &str) -> bool {
    matches!(tz, "UTC" | "Etc/UTC" | "GMT" | "Etc/GMT" | "Z" | "utc")
}

fn relabel_utc(column: &ArrayRef) -> ArrayRef {
    const OFFSET: &str = "+00:00";
    match column.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => Arc::new(
            column
                .as_primitive::<TimestampSecondType>()
                .clone()
                .with_timezone(OFFSET),
        ),
        DataType::Timestamp(TimeUnit::Millisecond, _) => Arc::new(
            column
                .as_primitive::<TimestampMillisecondType>()
                .clone()
                .with_timezone(OFFSET),
        ),
        DataType::Timestamp(TimeUnit::Microsecond, _) => Arc::new(
            column
                .as_primitive::<TimestampMicrosecondType>()
                .clone()
                .with_timezone(OFFSET),
        ),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => Arc::new(
            column
                .as_primitive::<TimestampNanosecondType>()
                .clone()
                .with_timezone(OFFSET),
        ),
        _ => column.clone(),
    }
}

/// Runs `sql` and returns its rows as JSON objects, through arrow's JSON
/// writer with explicit nulls (a template can test `is none` for every
/// column); nested lists and structs arrive as JSON arrays and objects.
/// The error is DuckDB's or arrow's message, for the caller to place.
pub fn query_json(
    conn: &Connection,
    sql: &str,
) -> std::result::Result<Vec<serde_json::Value>, String> {
    let mut stmt = conn.prepare(sql).map_err(|e| e.to_string())?;
    let batches = stmt.stream_arrow([]).map_err(|e| e.to_string())?;
    let mut buffer = Vec::new();
    {
        let mut writer = duckdb::arrow::json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, duckdb::arrow::json::writer::JsonArray>(&mut buffer);
        for batch in batches {
            let batch = batch.map_err(|e| e.to_string())?;
            let batch = printable_batch(&batch).map_err(|e| e.to_string())?;
            writer.write(&batch).map_err(|e| e.to_string())?;
        }
        writer.finish().map_err(|e| e.to_string())?;
    }
    if buffer.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&buffer).map_err(|e| format!("result is not valid JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_with_inner_quotes_doubled() {
        assert_eq!(quote_ident("status"), "\"status\"");
        assert_eq!(quote_ident("cf_\"odd\" name"), "\"cf_\"\"odd\"\" name\"");
        assert_eq!(qualified("raw", "customers"), "\"raw\".\"customers\"");
    }

    #[test]
    fn constant_literals_double_single_quotes() {
        assert_eq!(constant_literal("it's"), "'it''s'");
    }

    #[test]
    fn lock_conflicts_are_recognised() {
        assert!(is_lock_conflict(
            "IO Error: Could not set lock on file \"/x/ferry.duckdb\": Conflicting lock is held in /usr/bin/duckdb (PID 12)"
        ));
        assert!(!is_lock_conflict(
            "Catalog Error: Table with name x does not exist!"
        ));
    }
}
