//! `ferry transform`: the versioned SQL of `sql/transforms/` turns `raw.*`
//! into `map.*` and `stg.*` (SPEC §4).
//!
//! dbt semantics, not Flyway's: every run drops and rebuilds `map.*` and
//! `stg.*` from `raw.*`, so running again is always safe and the result
//! depends only on the raw data, the mapping files and the SQL. The whole run
//! is one DuckDB transaction: a failing file rolls everything back, so the
//! previous `stg.*` stays intact, and the ledger (`meta.transform_runs`)
//! still records which file failed and why. `transform status` compares the
//! files on disk with the ledger's checksums.

pub mod files;
pub mod mapping_files;

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use chrono::Utc;
use duckdb::{params, Connection};
use serde::Serialize;

use crate::dataverse::schema::Schema;
use crate::error::{Error, Result};
use crate::sql_catalog::{record_runs, Folder, Listing, SqlCatalog};
use crate::stage::db::{qualified, quote_ident, relation_exists};
use crate::stage::open_database;
use crate::workspace::{Profile, Workspace};
pub use files::{read_folder, render, SqlFile, SqlFolder};

/// Schemas a transform run owns: dropped and rebuilt every time.
pub const REBUILT_SCHEMAS: &[&str] = &["map", "stg"];

/// The Dataverse table work orders become in each profile (SPEC §10).
pub fn work_order_table(profile: Profile) -> &'static str {
    match profile {
        Profile::Sales => "incident",
        Profile::FieldService => "msdyn_workorder",
    }
}

/// What one file of a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct FileRun {
    pub version: u32,
    pub name: String,
    pub file: String,
    pub sha256: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_ms: u64,
    /// Tables the file created, with their row counts.
    pub tables: BTreeMap<String, u64>,
    pub rows: u64,
}

/// What `ferry transform` did.
#[derive(Debug, Clone, Serialize)]
pub struct TransformSummary {
    pub run_id: i64,
    pub files: Vec<FileRun>,
    /// Names in `sql/transforms/` that were not run (not `V<NNN>__<name>.sql`).
    pub stray: Vec<String>,
    pub duration_ms: u64,
    /// Row count of every `stg.*` table after the run.
    pub stg_tables: BTreeMap<String, u64>,
}

pub fn transforms_dir(ws: &Workspace) -> std::path::PathBuf {
    ws.sql_dir().join("transforms")
}

/// The transforms that run: the workspace's `sql/transforms/`, or the
/// built-in set of its profile when it has no such folder.
pub fn transform_files(ws: &Workspace) -> Result<Listing> {
    SqlCatalog::for_workspace(ws).folder(Folder::Transforms)
}

/// Runs every transform of the workspace.
pub fn run_transforms(ws: &Workspace) -> Result<TransformSummary> {
    let listing = transform_files(ws)?;
    let folder = SqlFolder::from(listing.clone());
    if folder.files.is_empty() {
        return Err(Error::input(
            transforms_dir(ws),
            "holds no V<NNN>__<name>.sql files",
            "restore the built-in transforms (copy them from a new `ferry init` workspace)",
        ));
    }
    let optionsets = mapping_files::read_optionsets(ws)?;
    let users = mapping_files::read_users(ws)?;
    let conn = open_database(ws)?;
    if !has_staged_data(&conn)? {
        return Err(Error::input(
            ws.database_path(),
            "nothing is staged yet (no raw.*_current tables)",
            "run `ferry extract` and `ferry stage` first",
        ));
    }
    ensure_ledger(&conn)?;
    let run_id: i64 = conn.query_row(
        "SELECT coalesce(max(run_id), 0) + 1 FROM meta.transform_runs",
        [],
        |r| r.get(0),
    )?;
    let started = Instant::now();
    let progress = crate::progress::steps("transform", folder.files.len() as u64);

    conn.execute_batch("BEGIN TRANSACTION")?;
    let mut done: Vec<FileRun> = Vec::new();
    let outcome = (|| -> Result<()> {
        prepare_schemas(&conn, ws, &optionsets, &users)?;
        for file in &folder.files {
            progress.set_message(file.file_name());
            done.push(run_file(&conn, ws, file)?);
            progress.inc(1);
        }
        build_stg_views(&conn, &ws.config.prefix)
    })();
    progress.finish_and_clear();

    match outcome {
        Ok(()) => {
            record(&conn, run_id, &done, None, true)?;
            record_runs(&conn, "transform", &listing.files)?;
            conn.execute_batch("COMMIT")?;
        }
        Err(err) => {
            let _ = conn.execute_batch("ROLLBACK");
            let failed = folder.files.get(done.len());
            record(
                &conn,
                run_id,
                &done,
                failed.map(|f| (f, err.to_string())),
                false,
            )?;
            return Err(match (failed, err) {
                (Some(file), Error::Database(e)) => Error::input(
                    &file.path,
                    format!("failed: {e}"),
                    "fix the SQL and run `ferry transform` again; nothing was changed, the previous stg.* is intact",
                ),
                (_, err) => err,
            });
        }
    }
    let stg_tables = table_counts(&conn, "stg")?;
    Ok(TransformSummary {
        run_id,
        files: done,
        stray: folder.stray,
        duration_ms: started.elapsed().as_millis() as u64,
        stg_tables,
    })
}

fn has_staged_data(conn: &Connection) -> Result<bool> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM duckdb_views() WHERE schema_name = 'raw' AND view_name LIKE '%\\_current' ESCAPE '\\' AND database_name = current_database()",
        [],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

fn ensure_ledger(conn: &Connection) -> Result<()> {
    conn.execute_batch(crate::sql_catalog::schema_sql("meta", "transform_ledger"))?;
    Ok(())
}

/// Drops and recreates `map` and `stg`, then loads what every transform may
/// read: settings, option sets, user overrides, the target schema.
pub fn prepare_schemas(
    conn: &Connection,
    ws: &Workspace,
    optionsets: &[mapping_files::OptionTranslation],
    users: &[mapping_files::UserOverride],
) -> Result<()> {
    for schema in REBUILT_SCHEMAS {
        // generated per rebuilt schema: dropped whole, so one loop over REBUILT_SCHEMAS.
        conn.execute_batch(&format!(
            "DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0};",
            quote_ident(schema)
        ))?;
    }
    for (schema, section) in [("dv", "users"), ("check", "schema"), ("map", "settings")] {
        conn.execute_batch(crate::sql_catalog::schema_sql(schema, section))?;
    }
    let profile = ws.config.profile;
    // Staged rows go to every configured target (a sample to test, all of
    // them to production), so an attachment must fit the smallest limit.
    let max_upload_bytes = ws
        .config
        .targets
        .values()
        .map(|t| t.max_upload_bytes)
        .min()
        .unwrap_or(ws.config.target.max_upload_bytes);
    conn.execute(
        "INSERT INTO map.settings VALUES (?, ?::UUID, ?, ?, ?)",
        params![
            ws.config.prefix,
            ws.namespace().to_string(),
            profile.to_string(),
            work_order_table(profile),
            max_upload_bytes as i64
        ],
    )?;
    mapping_files::load_optionsets(conn, optionsets)?;
    mapping_files::load_users(conn, users)?;
    load_target_columns(conn, &Schema::builtin(&ws.config.prefix))
}

/// `map.target_columns` and `map.target_options`: ferry's description of the
/// target tables, for the checks (required columns, lengths, option values)
/// and for analysts.
fn load_target_columns(conn: &Connection, schema: &Schema) -> Result<()> {
    conn.execute_batch(crate::sql_catalog::schema_sql("map", "target_columns"))?;
    let mut app = conn.appender_to_db("target_columns", "map")?;
    for c in schema.column_rows() {
        app.append_row(params![
            c.table_name,
            c.column_name,
            c.type_name,
            c.max_length,
            c.required_level,
            c.targets,
            c.custom
        ])?;
    }
    app.flush()?;
    drop(app);
    conn.execute_batch(crate::sql_catalog::schema_sql("map", "target_options"))?;
    let mut app = conn.appender_to_db("target_options", "map")?;
    for table in schema.tables() {
        for column in &table.columns {
            for option in &column.options {
                app.append_row(params![
                    table.logical_name,
                    column.name,
                    option.value,
                    option.label,
                    option.state
                ])?;
            }
        }
    }
    app.flush()?;
    Ok(())
}

/// Tables of the rebuilt schemas with their identity and exact row count, to
/// see what a file created, replaced or appended to.
fn table_snapshot(conn: &Connection) -> Result<HashMap<String, (i64, u64)>> {
    let names: Vec<(String, String, i64)> = {
        let mut stmt = conn.prepare(
            "SELECT schema_name, table_name, table_oid FROM duckdb_tables()
             WHERE schema_name IN ('map', 'stg') AND database_name = current_database()",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<std::result::Result<_, _>>()?
    };
    let mut out = HashMap::new();
    for (schema, table, oid) in names {
        let rows: i64 = conn.query_row(
            &format!("SELECT count(*) FROM {}", qualified(&schema, &table)),
            [],
            |r| r.get(0),
        )?;
        out.insert(format!("{schema}.{table}"), (oid, rows as u64));
    }
    Ok(out)
}

fn run_file(conn: &Connection, ws: &Workspace, file: &SqlFile) -> Result<FileRun> {
    let before = table_snapshot(conn)?;
    let started_at = Utc::now().to_rfc3339();
    let clock = Instant::now();
    conn.execute_batch(&render(&file.text, &ws.config.prefix))?;
    let duration_ms = clock.elapsed().as_millis() as u64;
    // A table the file (re)created counts whole; one it appended to counts
    // the rows it gained.
    let mut tables = BTreeMap::new();
    for (name, (oid, rows)) in table_snapshot(conn)? {
        match before.get(&name) {
            Some(&(old_oid, old_rows)) if old_oid == oid => {
                if rows != old_rows {
                    tables.insert(name, rows.saturating_sub(old_rows));
                }
            }
            _ => {
                tables.insert(name, rows);
            }
        }
    }
    Ok(FileRun {
        version: file.version,
        name: file.name.clone(),
        file: file.file_name(),
        sha256: file.sha256.clone(),
        started_at,
        duration_ms,
        rows: tables.values().sum(),
        tables,
    })
}

/// Writes the ledger rows of a run: the files that ran, and the one that
/// failed (if any) with its error.
fn record(
    conn: &Connection,
    run_id: i64,
    done: &[FileRun],
    failed: Option<(&SqlFile, String)>,
    committed: bool,
) -> Result<()> {
    let mut insert = conn.prepare(
        "INSERT INTO meta.transform_runs VALUES (?, ?, ?, ?, ?, ?::TIMESTAMPTZ, ?, ?, ?, ?, ?)",
    )?;
    for f in done {
        insert.execute(params![
            run_id,
            f.version,
            f.name,
            f.file,
            f.sha256,
            f.started_at,
            f.duration_ms as i64,
            f.rows as i64,
            true,
            committed,
            Option::<String>::None
        ])?;
    }
    if let Some((file, error)) = failed {
        insert.execute(params![
            run_id,
            file.version,
            file.name,
            file.file_name(),
            file.sha256,
            Utc::now().to_rfc3339(),
            0i64,
            0i64,
            false,
            false,
            error
        ])?;
    }
    if committed {
        let mut tables = conn.prepare("INSERT INTO meta.transform_tables VALUES (?, ?, ?, ?)")?;
        for f in done {
            for (table, rows) in &f.tables {
                tables.execute(params![run_id, f.version, table, *rows as i64])?;
            }
        }
    }
    Ok(())
}

/// Every `stg.*` table with its record-id column, or an error naming the
/// table that lacks one.
fn stg_tables(conn: &Connection, prefix: &str) -> Result<Vec<(String, Vec<String>)>> {
    let record_id = format!("{prefix}_record_id");
    let mut stmt = conn.prepare(
        "SELECT table_name, list(column_name ORDER BY column_index) FROM duckdb_columns()
         WHERE schema_name = 'stg' AND database_name = current_database()
         GROUP BY table_name ORDER BY table_name",
    )?;
    let rows = stmt.query_map([], |r| {
        let columns: duckdb::types::Value = r.get(1)?;
        Ok((r.get::<_, String>(0)?, columns))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (table, columns) = row?;
        let columns: Vec<String> = match columns {
            duckdb::types::Value::List(items) => items
                .into_iter()
                .filter_map(|v| match v {
                    duckdb::types::Value::Text(s) => Some(s),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        for needed in [record_id.as_str(), "_source_object"] {
            if !columns.iter().any(|c| c == needed) {
                return Err(Error::Usage(format!(
                    "stg.{table} has no `{needed}` column: every stg table carries {record_id} and _source_object (see sql/README.md); add them in the transform that builds it"
                )));
            }
        }
        out.push((table, columns));
    }
    Ok(out)
}

/// `meta.stg_rows` and `meta.stg_cells`: long views over every `stg.*`
/// table, so one check file can cover all tables (required columns, lengths)
/// and the conservation check can find any source record. Built from the
/// catalogue (identifiers only, quoted), never from data.
pub fn build_stg_views(conn: &Connection, prefix: &str) -> Result<()> {
    let record_id = quote_ident(&format!("{prefix}_record_id"));
    let tables = stg_tables(conn, prefix)?;
    let known: HashMap<String, Vec<String>> = {
        let mut stmt = conn
            .prepare("SELECT table_name, list(column_name) FROM map.target_columns GROUP BY 1")?;
        let rows = stmt.query_map([], |r| {
            let v: duckdb::types::Value = r.get(1)?;
            Ok((r.get::<_, String>(0)?, v))
        })?;
        let mut map = HashMap::new();
        for row in rows {
            let (table, list) = row?;
            if let duckdb::types::Value::List(items) = list {
                map.insert(
                    table,
                    items
                        .into_iter()
                        .filter_map(|v| match v {
                            duckdb::types::Value::Text(s) => Some(s),
                            _ => None,
                        })
                        .collect(),
                );
            }
        }
        map
    };
    let mut rows_sql = Vec::new();
    let mut cells_sql = Vec::new();
    for (table, columns) in &tables {
        let name = crate::stage::db::constant_literal(table);
        let from = qualified("stg", table);
        rows_sql.push(format!(
            "SELECT {name} AS target_table, _source_object AS source_object, {record_id} AS record_id FROM {from}"
        ));
        let target_columns = known.get(table).cloned().unwrap_or_default();
        for column in columns.iter().filter(|c| target_columns.contains(c)) {
            cells_sql.push(format!(
                "SELECT {name} AS target_table, _source_object AS source_object, {record_id} AS record_id, {} AS column_name, {}::VARCHAR AS value FROM {from}",
                crate::stage::db::constant_literal(column),
                quote_ident(column)
            ));
        }
    }
    let empty_rows = "SELECT NULL::VARCHAR AS target_table, NULL::VARCHAR AS source_object, NULL::VARCHAR AS record_id WHERE false";
    let empty_cells = "SELECT NULL::VARCHAR AS target_table, NULL::VARCHAR AS source_object, NULL::VARCHAR AS record_id, NULL::VARCHAR AS column_name, NULL::VARCHAR AS value WHERE false";
    let join = |parts: Vec<String>, empty: &str| {
        if parts.is_empty() {
            empty.to_string()
        } else {
            parts.join("\nUNION ALL ")
        }
    };
    // generated per stg table: the views union one SELECT per table the transforms made.
    conn.execute_batch(&format!(
        "CREATE OR REPLACE VIEW meta.stg_rows AS {};\nCREATE OR REPLACE VIEW meta.stg_cells AS {};",
        join(rows_sql, empty_rows),
        join(cells_sql, empty_cells)
    ))?;
    Ok(())
}

/// Row count of every table in `schema`.
pub fn table_counts(conn: &Connection, schema: &str) -> Result<BTreeMap<String, u64>> {
    let mut names: Vec<String> = {
        let mut stmt = conn.prepare(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = ? AND database_name = current_database()",
        )?;
        let rows = stmt.query_map([schema], |r| r.get::<_, String>(0))?;
        rows.collect::<std::result::Result<_, _>>()?
    };
    names.sort();
    let mut out = BTreeMap::new();
    for name in names {
        let n: i64 = conn.query_row(
            &format!("SELECT count(*) FROM {}", qualified(schema, &name)),
            [],
            |r| r.get(0),
        )?;
        out.insert(name, n as u64);
    }
    Ok(out)
}

/// Where one file stands against the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileState {
    /// Ran in the last committed run with these exact bytes.
    Applied,
    /// Never ran in a committed run.
    Pending,
    /// Ran, but the file changed since.
    Modified,
    /// In the ledger's last committed run, no longer on disk.
    Removed,
}

impl std::fmt::Display for FileState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileState::Applied => "applied",
            FileState::Pending => "pending",
            FileState::Modified => "modified",
            FileState::Removed => "removed",
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FileStatus {
    pub version: u32,
    pub name: String,
    pub file: String,
    pub state: FileState,
    /// Checksum of the file on disk (short).
    pub sha256: Option<String>,
    /// Checksum the last committed run used (short).
    pub applied_sha256: Option<String>,
    pub last_run: Option<String>,
    pub rows: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TransformStatus {
    pub files: Vec<FileStatus>,
    pub stray: Vec<String>,
    /// The failure of the newest run, if it failed.
    pub last_failure: Option<String>,
}

/// `ferry transform status`: each file as applied / pending / modified, by
/// checksum against the last committed run.
pub fn transform_status(ws: &Workspace) -> Result<TransformStatus> {
    let folder = SqlFolder::from(transform_files(ws)?);
    let conn = crate::stage::open_existing_database(ws)?;
    let mut applied: BTreeMap<u32, (String, String, String, i64)> = BTreeMap::new();
    let mut last_failure = None;
    if let Some(conn) = &conn {
        if relation_exists(conn, "meta", "transform_runs")? {
            let mut stmt = conn.prepare(
                "SELECT version, file, sha256, strftime(started_at::TIMESTAMP, '%Y-%m-%d %H:%M:%S UTC'), rows
                 FROM meta.transform_runs
                 WHERE committed AND run_id = (SELECT max(run_id) FROM meta.transform_runs WHERE committed)",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u32,
                    (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?),
                ))
            })?;
            for row in rows {
                let (version, v) = row?;
                applied.insert(version, v);
            }
            last_failure = conn
                .query_row(
                    "SELECT file || ': ' || error FROM meta.transform_runs
                     WHERE NOT success AND run_id = (SELECT max(run_id) FROM meta.transform_runs)",
                    [],
                    |r| r.get::<_, String>(0),
                )
                .ok();
        }
    }
    let mut files = Vec::new();
    for f in &folder.files {
        let (state, applied_sha, last_run, rows) = match applied.remove(&f.version) {
            Some((_, sha, at, rows)) if sha == f.sha256 => {
                (FileState::Applied, Some(sha), Some(at), Some(rows))
            }
            Some((_, sha, at, rows)) => (FileState::Modified, Some(sha), Some(at), Some(rows)),
            None => (FileState::Pending, None, None, None),
        };
        files.push(FileStatus {
            version: f.version,
            name: f.name.clone(),
            file: f.file_name(),
            state,
            sha256: Some(f.short_sha().to_string()),
            applied_sha256: applied_sha.map(|s| files::short_sha(&s).to_string()),
            last_run,
            rows,
        });
    }
    for (version, (file, sha, at, rows)) in applied {
        files.push(FileStatus {
            version,
            name: files::parse_name(&file).map(|(_, n)| n).unwrap_or_default(),
            file,
            state: FileState::Removed,
            sha256: None,
            applied_sha256: Some(files::short_sha(&sha).to_string()),
            last_run: Some(at),
            rows: Some(rows),
        });
    }
    files.sort_by_key(|f| f.version);
    Ok(TransformStatus {
        files,
        stray: folder.stray,
        last_failure,
    })
}
