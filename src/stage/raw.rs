//! Loading landed Parquet files into `raw.*`: bulk, append-only, and
//! idempotent.
//!
//! `raw.<object>` keeps every distinct version of every record ever landed:
//! a row is inserted only when its (`id`, `_row_hash`) is not there yet, so
//! staging the same data twice adds nothing, and a record changed at the
//! source adds exactly one version. `raw.<object>_current` shows the newest
//! version of each id that the source has not deleted since (deletions are
//! staged in `raw._deleted`). The whole load is one `INSERT ... SELECT FROM
//! read_parquet(?)` with an anti-join — never row-by-row inserts, which are
//! orders of magnitude slower in DuckDB.
//!
//! Extracts may disagree about columns: a custom field appears later, or the
//! extractor infers a different type for it. New columns are added; a column
//! whose type changed is widened to VARCHAR (every DuckDB value has a text
//! form, so nothing is lost) and the caller warns about it.

use std::path::Path;

use duckdb::Connection;
use serde::Serialize;

use super::db::{
    constant_literal, qualified, quote_ident, relation_exists, table_columns, ColumnType,
};
use crate::error::{Error, Result};
use crate::landing::delta::MODIFIED_AT;
use crate::landing::{ROW_HASH_COLUMN, SOURCE_LINE_COLUMN};
use crate::source::records::deleted_columns as dc;

/// The schema every landed table lives in.
pub const RAW_SCHEMA: &str = "raw";
/// Column ferry adds to every raw table: which extract landed the row.
pub const EXTRACT_ID_COLUMN: &str = "_extract_id";
/// Rows of `_quarantine.parquet` from every extract.
pub const QUARANTINE_TABLE: &str = "_quarantine";
/// Attachment contents (`_attachments.parquet`) from every extract.
pub const ATTACHMENT_CONTENT_TABLE: &str = "attachment_content";
/// Deletions (`_deleted.parquet`) from every extract.
pub const DELETED_TABLE: &str = "_deleted";
/// Suffix of the newest-version view of an object table.
pub const CURRENT_SUFFIX: &str = "_current";

/// Columns that identify one distinct row version in each kind of raw table.
pub const OBJECT_KEY: &[&str] = &["id", ROW_HASH_COLUMN];
pub const QUARANTINE_KEY: &[&str] = &["object", "record_id", "field", "reason", "raw_bytes"];
pub const ATTACHMENT_KEY: &[&str] = &["attachment_id", "sha256"];
pub const DELETED_KEY: &[&str] = &[dc::OBJECT, dc::ID, dc::DELETED_AT];

/// A raw table and what makes two of its rows "the same".
#[derive(Debug, Clone, Copy)]
pub struct RawTable<'a> {
    /// Table name inside the `raw` schema.
    pub table: &'a str,
    /// A row is inserted only if no staged row has the same values here
    /// (NULLs compare equal).
    pub key: &'a [&'a str],
}

/// A column whose type changed between extracts and was widened.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WidenedColumn {
    pub column: String,
    /// The staged type before this load.
    pub was: String,
    /// The type in the Parquet file being loaded.
    pub incoming: String,
}

/// What one load did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadOutcome {
    /// Rows actually inserted (new distinct versions).
    pub inserted: u64,
    /// Columns this file brought that the table did not have.
    pub added_columns: Vec<String>,
    pub widened_columns: Vec<WidenedColumn>,
}

/// Loads `file` into `raw.<target.table>`, creating or evolving the table
/// first. Runs inside the caller's transaction.
pub fn load_parquet(
    conn: &Connection,
    target: RawTable<'_>,
    file: &Path,
    extract_id: &str,
) -> Result<LoadOutcome> {
    let path_text = file.to_str().ok_or_else(|| {
        Error::input(
            file,
            "the path is not valid UTF-8, which DuckDB cannot open",
            "move the workspace to a folder whose path is plain UTF-8",
        )
    })?;
    let incoming = describe_parquet(conn, path_text, file)?;
    check_incoming_columns(&incoming, target, file)?;

    let table = qualified(RAW_SCHEMA, target.table);
    let mut outcome = LoadOutcome::default();
    let staged = table_columns(conn, RAW_SCHEMA, target.table)?;
    if staged.is_empty() {
        create_table(conn, &table, &incoming)?;
    } else {
        evolve_table(conn, &table, &staged, &incoming, &mut outcome)?;
    }

    // Compare keys in the staged column's type, so a key column that was
    // widened to VARCHAR still matches the incoming value's text form.
    let staged = table_columns(conn, RAW_SCHEMA, target.table)?;
    let key_match = target
        .key
        .iter()
        .map(|key| {
            let ty = staged
                .iter()
                .find(|c| c.name == *key)
                .map(|c| c.data_type.as_str())
                .unwrap_or("VARCHAR");
            let col = quote_ident(key);
            format!("staged.{col} IS NOT DISTINCT FROM CAST(incoming.{col} AS {ty})")
        })
        .collect::<Vec<_>>()
        .join(" AND ");
    let sql = format!(
        "INSERT INTO {table} BY NAME \
         SELECT incoming.*, $1 AS {extract_col} \
         FROM read_parquet($2) AS incoming \
         WHERE NOT EXISTS (SELECT 1 FROM {table} AS staged WHERE {key_match})",
        extract_col = quote_ident(EXTRACT_ID_COLUMN),
    );
    let inserted = conn
        .execute(&sql, [extract_id, path_text])
        .map_err(|e| load_error(file, e))?;
    outcome.inserted = inserted as u64;
    Ok(outcome)
}

/// The Parquet file's columns as DuckDB types them.
fn describe_parquet(conn: &Connection, path_text: &str, file: &Path) -> Result<Vec<ColumnType>> {
    let mut stmt = conn.prepare("DESCRIBE SELECT * FROM read_parquet(?)")?;
    let rows = stmt
        .query_map([path_text], |row| {
            Ok(ColumnType {
                name: row.get(0)?,
                data_type: row.get(1)?,
            })
        })
        .map_err(|e| load_error(file, e))?;
    rows.collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| load_error(file, e))
}

fn check_incoming_columns(
    incoming: &[ColumnType],
    target: RawTable<'_>,
    file: &Path,
) -> Result<()> {
    let has = |name: &str| incoming.iter().any(|c| c.name == name);
    if has(EXTRACT_ID_COLUMN) {
        return Err(Error::input(
            file,
            format!("the file has a column named `{EXTRACT_ID_COLUMN}`, which ferry reserves for staging"),
            "rename that field at the source, or run `ferry extract` again with a ferry version that does",
        ));
    }
    if let Some(missing) = target.key.iter().find(|k| !has(k)) {
        return Err(Error::input(
            file,
            format!("the file has no `{missing}` column, so its rows cannot be told apart"),
            "the extract is damaged or was written by an incompatible ferry: run `ferry extract` again",
        ));
    }
    Ok(())
}

fn create_table(conn: &Connection, table: &str, incoming: &[ColumnType]) -> Result<()> {
    let columns = incoming
        .iter()
        .map(|c| format!("{} {}", quote_ident(&c.name), c.data_type))
        .chain(std::iter::once(format!(
            "{} VARCHAR NOT NULL",
            quote_ident(EXTRACT_ID_COLUMN)
        )))
        .collect::<Vec<_>>()
        .join(", ");
    // generated per source object: its columns are the landed Parquet's.
    conn.execute_batch(&format!("CREATE TABLE {table} ({columns})"))?;
    Ok(())
}

fn evolve_table(
    conn: &Connection,
    table: &str,
    staged: &[ColumnType],
    incoming: &[ColumnType],
    outcome: &mut LoadOutcome,
) -> Result<()> {
    for column in incoming {
        match staged.iter().find(|c| c.name == column.name) {
            None => {
                conn.execute_batch(&format!(
                    "ALTER TABLE {table} ADD COLUMN {} {}",
                    quote_ident(&column.name),
                    column.data_type
                ))?;
                outcome.added_columns.push(column.name.clone());
            }
            Some(existing) if existing.data_type != column.data_type => {
                // Already text: the insert casts the incoming values to text.
                if existing.data_type != "VARCHAR" {
                    conn.execute_batch(&format!(
                        "ALTER TABLE {table} ALTER COLUMN {} SET DATA TYPE VARCHAR",
                        quote_ident(&column.name)
                    ))?;
                }
                outcome.widened_columns.push(WidenedColumn {
                    column: column.name.clone(),
                    was: existing.data_type.clone(),
                    incoming: column.data_type.clone(),
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Creates `raw._deleted` when it does not exist yet, with the types
/// `_deleted.parquet` loads as, so `_current` views can always refer to it.
pub fn ensure_deleted_table(conn: &Connection) -> Result<()> {
    // generated from the column-name constants the landing writer shares, so the two cannot drift.
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {table} (\
         {object} VARCHAR, {id} VARCHAR, {at} TIMESTAMP WITH TIME ZONE, \
         {line} BIGINT, {extract} VARCHAR NOT NULL)",
        table = qualified(RAW_SCHEMA, DELETED_TABLE),
        object = quote_ident(dc::OBJECT),
        id = quote_ident(dc::ID),
        at = quote_ident(dc::DELETED_AT),
        line = quote_ident(SOURCE_LINE_COLUMN),
        extract = quote_ident(EXTRACT_ID_COLUMN),
    ))?;
    Ok(())
}

/// (Re)creates `raw.<object>_current`: the newest version of each id,
/// unless the source deleted the record at or after that version's
/// `modified_at`.
///
/// Newest means the highest `_extract_id`; two versions of one id inside a
/// single extract (a duplicated CSV row) are ordered by `_source_line`, the
/// later line winning, then by `_row_hash` so the choice never depends on
/// scan order. The view is recreated after every load because DuckDB binds a
/// view's `*` when it is created.
///
/// Deletions (SPEC §6, delta window) come from `raw._deleted`: a record
/// modified after its deletion (re-created at the source) shows again. A
/// version without a `modified_at` cannot be newer than a deletion, so any
/// deletion hides it — as it does for objects without a typed `modified_at`.
pub fn create_current_view(conn: &Connection, object: &str) -> Result<()> {
    ensure_deleted_table(conn)?;
    let columns = table_columns(conn, RAW_SCHEMA, object)?;
    let has = |name: &str| columns.iter().any(|c| c.name == name);
    let mut order = vec![format!("{} DESC", quote_ident(EXTRACT_ID_COLUMN))];
    if has(SOURCE_LINE_COLUMN) {
        order.push(format!(
            "{} DESC NULLS LAST",
            quote_ident(SOURCE_LINE_COLUMN)
        ));
    }
    order.push(format!("{} DESC", quote_ident(ROW_HASH_COLUMN)));
    let id = quote_ident("id");
    let typed_modified_at = columns
        .iter()
        .any(|c| c.name == MODIFIED_AT && c.data_type == "TIMESTAMP WITH TIME ZONE");
    let deleted_after = if typed_modified_at {
        let modified_at = quote_ident(MODIFIED_AT);
        format!(
            " AND (newest.{modified_at} IS NULL OR deleted.{at} >= newest.{modified_at})",
            at = quote_ident(dc::DELETED_AT)
        )
    } else {
        String::new()
    };
    // generated per source object: the newest version of each of its records.
    conn.execute_batch(&format!(
        "CREATE OR REPLACE VIEW {view} AS \
         WITH newest AS (\
           SELECT * FROM {table} \
           QUALIFY row_number() OVER (PARTITION BY {id} ORDER BY {order}) = 1) \
         SELECT * FROM newest \
         WHERE NOT EXISTS (\
           SELECT 1 FROM {deleted} AS deleted \
           WHERE deleted.{object_col} = {object} \
             AND deleted.{id_col} = CAST(newest.{id} AS VARCHAR){deleted_after})",
        view = qualified(RAW_SCHEMA, &current_view(object)),
        table = qualified(RAW_SCHEMA, object),
        order = order.join(", "),
        deleted = qualified(RAW_SCHEMA, DELETED_TABLE),
        object_col = quote_ident(dc::OBJECT),
        object = constant_literal(object),
        id_col = quote_ident(dc::ID),
    ))?;
    Ok(())
}

/// The cheapest relation holding exactly the rows of `raw.<object>_current`,
/// as SQL text: the table itself when every id has a single version and no
/// deletion of the object is staged (the common case after a first extract,
/// where the view's window over all versions is pure cost), otherwise the
/// view.
///
/// Keep this in step with [`create_current_view`].
pub fn current_rows_source(conn: &Connection, object: &str) -> Result<String> {
    let table = qualified(RAW_SCHEMA, object);
    // count(*) counts NULL ids and count(DISTINCT) does not, so equality also
    // rules out NULL ids, which the view would fold into one row.
    let single_version: bool = conn.query_row(
        &format!(
            "SELECT count(*) = count(DISTINCT {}) FROM {table}",
            quote_ident("id")
        ),
        [],
        |row| row.get(0),
    )?;
    let deletions = single_version
        && relation_exists(conn, RAW_SCHEMA, DELETED_TABLE)?
        && conn.query_row(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM {} WHERE {} = ?)",
                qualified(RAW_SCHEMA, DELETED_TABLE),
                quote_ident(dc::OBJECT)
            ),
            [object],
            |row| row.get::<_, bool>(0),
        )?;
    Ok(if single_version && !deletions {
        table
    } else {
        qualified(RAW_SCHEMA, &current_view(object))
    })
}

/// Name of the newest-version view of an object table.
pub fn current_view(object: &str) -> String {
    format!("{object}{CURRENT_SUFFIX}")
}

/// Whether the object has been staged (its raw table exists).
pub fn object_table_exists(conn: &Connection, object: &str) -> Result<bool> {
    relation_exists(conn, RAW_SCHEMA, object)
}

fn load_error(file: &Path, err: duckdb::Error) -> Error {
    Error::input(
        file,
        format!("DuckDB could not load this file: {err}"),
        "the extract may be damaged or written by an incompatible ferry: run `ferry extract` again",
    )
}
