//! Hand-made landing zones for the `stage`, `sql` and `report` tests.
//!
//! Each test builds exactly the extract it needs — Parquet files written by
//! DuckDB's `COPY ... (FORMAT parquet)` from a SELECT the test spells out,
//! plus `_quarantine.parquet`, `_attachments.parquet` and a `_manifest.json`
//! with true checksums — so these tests do not depend on the extractor and
//! every expected number can be checked by hand.

#![allow(dead_code)] // each test file uses a different part of the helper

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ferry::landing::manifest::{
    AttachmentsManifest, ColumnInfo, ColumnOrigin, ExtractMode, FileEntry, Manifest,
    ObjectManifest, PendingSync, SourceInfo,
};
use ferry::source::schema::FieldType;
use ferry::workspace::{Profile, SourceSetting, Workspace};
use sha2::{Digest, Sha256};

/// A workspace in a temporary folder that removes itself.
pub struct FixtureWorkspace {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
}

impl FixtureWorkspace {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("ws");
        ferry::commands::init::create_workspace(&root, Profile::Sales, &SourceSetting::Unset, None)
            .expect("workspace");
        FixtureWorkspace { _dir: dir, root }
    }

    pub fn workspace(&self) -> Workspace {
        Workspace::open(&self.root).expect("open workspace")
    }

    /// The ferry binary, pointed at this workspace.
    pub fn ferry(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::cargo_bin("ferry").expect("ferry binary");
        cmd.arg("--workspace").arg(&self.root);
        cmd.env_remove("FERRY_LOG");
        cmd
    }

    pub fn landing(&self) -> PathBuf {
        self.root.join("landing")
    }

    /// Opens ferry.duckdb (close it before running the binary again).
    pub fn db(&self) -> duckdb::Connection {
        ferry::duck::open(&self.root.join("ferry.duckdb")).expect("open ferry.duckdb")
    }

    /// Rows of a query as text (NULL → None), for exact comparisons.
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        rows(&self.db(), sql)
    }

    /// A fingerprint of every row of a table: identical content ⇔ same text.
    pub fn table_fingerprint(&self, table: &str) -> String {
        let db = self.db();
        db.query_row(
            &format!(
                "SELECT count(*) || ':' || coalesce(md5(string_agg(CAST(t AS VARCHAR), '\n' ORDER BY CAST(t AS VARCHAR))), '') FROM {table} AS t"
            ),
            [],
            |row| row.get::<_, String>(0),
        )
        .expect("fingerprint")
    }
}

pub fn rows(db: &duckdb::Connection, sql: &str) -> Vec<Vec<Option<String>>> {
    // Every value as DuckDB's own text form, so expectations read naturally.
    let mut stmt = db
        .prepare(&format!("SELECT CAST(COLUMNS(*) AS VARCHAR) FROM ({sql})"))
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
    let mut rows = stmt.query([]).expect("query");
    let mut out = Vec::new();
    while let Some(row) = rows.next().expect("row") {
        let n = row.as_ref().column_count();
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(row.get::<_, Option<String>>(i).expect("text value"));
        }
        out.push(values);
    }
    out
}

/// `Some("x")` for compact expectations.
pub fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// A column of a landed object.
#[derive(Debug, Clone)]
pub struct Col {
    pub name: String,
    pub ty: FieldType,
    pub origin: ColumnOrigin,
}

pub fn std_col(name: &str, ty: FieldType) -> Col {
    Col {
        name: name.into(),
        ty,
        origin: ColumnOrigin::Standard,
    }
}

pub fn custom_col(name: &str, ty: FieldType) -> Col {
    Col {
        name: name.into(),
        ty,
        origin: ColumnOrigin::Custom,
    }
}

pub fn text(name: &str) -> Col {
    std_col(name, FieldType::Text)
}

struct ObjectSpec {
    name: String,
    columns: Vec<Col>,
    /// A SELECT producing exactly `columns`, typed.
    select: String,
    quarantined_rows: u64,
}

/// An extract to write into `landing/<id>/`.
pub struct ExtractBuilder {
    id: String,
    started_at: String,
    objects: Vec<ObjectSpec>,
    quarantine_select: Option<String>,
    attachments_select: Option<String>,
    pending_sync: Vec<String>,
    pending_allowed: bool,
    folder_suffix: String,
}

const EMPTY_QUARANTINE: &str = "SELECT CAST(NULL AS VARCHAR) AS object, CAST(NULL AS BIGINT) AS line, \
     CAST(NULL AS VARCHAR) AS record_id, CAST(NULL AS VARCHAR) AS field, CAST(NULL AS VARCHAR) AS reason, \
     CAST(NULL AS VARCHAR) AS raw_text, CAST(NULL AS BLOB) AS raw_bytes WHERE false";
const EMPTY_ATTACHMENTS: &str = "SELECT CAST(NULL AS VARCHAR) AS attachment_id, CAST(NULL AS VARCHAR) AS file_name, \
     CAST(NULL AS BIGINT) AS size_bytes, CAST(NULL AS VARCHAR) AS sha256, CAST(NULL AS BLOB) AS content WHERE false";

/// Starts an extract; `seq` and `started_at` (`YYYY-MM-DDTHH:MM:SSZ`) make
/// its id like the extractor's (`0001-20261125T191800Z`).
pub fn extract(seq: u32, started_at: &str) -> ExtractBuilder {
    let compact: String = started_at
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    ExtractBuilder {
        id: format!("{seq:04}-{compact}"),
        started_at: started_at.to_string(),
        objects: Vec::new(),
        quarantine_select: None,
        attachments_select: None,
        pending_sync: Vec::new(),
        pending_allowed: false,
        folder_suffix: String::new(),
    }
}

impl ExtractBuilder {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Adds an object; `select` must yield `columns` in order (without
    /// `_row_hash` and `_source_line`, which are added here).
    pub fn object(mut self, name: &str, columns: Vec<Col>, select: &str) -> Self {
        self.objects.push(ObjectSpec {
            name: name.into(),
            columns,
            select: select.into(),
            quarantined_rows: 0,
        });
        self
    }

    /// The manifest's quarantined count for the last added object.
    pub fn quarantined(mut self, rows: u64) -> Self {
        self.objects.last_mut().expect("an object").quarantined_rows = rows;
        self
    }

    /// A SELECT shaped like `_quarantine.parquet`.
    pub fn quarantine(mut self, select: &str) -> Self {
        self.quarantine_select = Some(select.into());
        self
    }

    /// A SELECT shaped like `_attachments.parquet`.
    pub fn attachments(mut self, select: &str) -> Self {
        self.attachments_select = Some(select.into());
        self
    }

    pub fn pending(mut self, ids: &[&str], allowed: bool) -> Self {
        self.pending_sync = ids.iter().map(|s| s.to_string()).collect();
        self.pending_allowed = allowed;
        self
    }

    /// Writes the folder as `<id><suffix>` (e.g. `.partial`).
    pub fn suffix(mut self, suffix: &str) -> Self {
        self.folder_suffix = suffix.into();
        self
    }

    /// Writes the extract into `landing/` and returns its folder.
    pub fn write(self, landing: &Path) -> PathBuf {
        let dir = landing.join(format!("{}{}", self.id, self.folder_suffix));
        std::fs::create_dir_all(&dir).expect("extract folder");
        let db = ferry::duck::open_in_memory().expect("duckdb");
        let mut objects = BTreeMap::new();
        let mut watermark: Option<String> = None;
        for object in &self.objects {
            let file = format!("{}.parquet", object.name);
            // The row hash covers the row's values; the source line is the
            // row's position + 1 (line 1 is the CSV header).
            let select = format!(
                "SELECT t.*, sha256(CAST(t AS VARCHAR)) AS _row_hash, \
                 CAST(row_number() OVER () + 1 AS BIGINT) AS _source_line FROM ({}) AS t",
                object.select
            );
            copy_to_parquet(&db, &select, &dir.join(&file));
            let rows = count(&db, &object.select);
            let object_watermark = if object.columns.iter().any(|c| c.name == "modified_at") {
                db.query_row(
                    &format!(
                        "SELECT strftime(max(modified_at), '%Y-%m-%dT%H:%M:%SZ') FROM ({})",
                        object.select
                    ),
                    [],
                    |row| row.get::<_, Option<String>>(0),
                )
                .expect("watermark")
            } else {
                None
            };
            if object_watermark > watermark {
                watermark = object_watermark.clone();
            }
            objects.insert(
                object.name.clone(),
                ObjectManifest {
                    file: file_entry(&dir, &file, rows),
                    source_file: Some(format!("{}.csv", object.name)),
                    source_sha256: None,
                    source_rows: rows + object.quarantined_rows,
                    landed_rows: rows,
                    quarantined_rows: object.quarantined_rows,
                    unchanged_rows: 0,
                    watermark: object_watermark,
                    columns: object
                        .columns
                        .iter()
                        .map(|c| ColumnInfo {
                            name: c.name.clone(),
                            ty: c.ty,
                            origin: c.origin,
                        })
                        .collect(),
                    ambiguous_local_times: 0,
                },
            );
        }
        let quarantine_select = self
            .quarantine_select
            .as_deref()
            .unwrap_or(EMPTY_QUARANTINE);
        copy_to_parquet(&db, quarantine_select, &dir.join("_quarantine.parquet"));
        let quarantine = file_entry(&dir, "_quarantine.parquet", count(&db, quarantine_select));
        let attachments_select = self
            .attachments_select
            .as_deref()
            .unwrap_or(EMPTY_ATTACHMENTS);
        copy_to_parquet(&db, attachments_select, &dir.join("_attachments.parquet"));
        let attachments = file_entry(&dir, "_attachments.parquet", count(&db, attachments_select));
        let manifest = Manifest {
            format: 1,
            extract_id: self.id.clone(),
            ferry_version: "test".into(),
            source: SourceInfo {
                kind: "csv".into(),
                location: "/exports/servicetracker".into(),
            },
            exported_at: Some("2026-11-25 18:00:00".into()),
            timezone: Some("America/Chicago".into()),
            mode: ExtractMode::Full,
            since: None,
            started_at: self.started_at.clone(),
            finished_at: self.started_at.clone(),
            watermark,
            objects,
            quarantine,
            attachments: AttachmentsManifest {
                file: attachments,
                content_bytes: 0,
                problems: 0,
            },
            pending_sync: PendingSync {
                ids: self.pending_sync.clone(),
                allowed: self.pending_allowed,
            },
            deleted: None,
        };
        manifest
            .write(&dir.join("_manifest.json"))
            .expect("manifest");
        dir
    }
}

fn copy_to_parquet(db: &duckdb::Connection, select: &str, path: &Path) {
    // The path is ours (a temp folder), so splicing it is fine in a test.
    let path = path.to_str().expect("utf-8 path").replace('\'', "''");
    db.execute_batch(&format!("COPY ({select}) TO '{path}' (FORMAT parquet)"))
        .unwrap_or_else(|e| panic!("writing {path}: {e}\n{select}"));
}

fn count(db: &duckdb::Connection, select: &str) -> u64 {
    db.query_row(&format!("SELECT count(*) FROM ({select})"), [], |row| {
        row.get::<_, i64>(0)
    })
    .expect("count") as u64
}

fn file_entry(dir: &Path, file: &str, rows: u64) -> FileEntry {
    let bytes = std::fs::read(dir.join(file)).expect("landed file");
    FileEntry {
        file: file.into(),
        sha256: hex::encode(Sha256::digest(&bytes)),
        bytes: bytes.len() as u64,
        rows,
    }
}

/// Customers with the columns the inventory tests look at.
pub fn customer_columns() -> Vec<Col> {
    vec![
        text("id"),
        text("company_name"),
        text("email"),
        text("billing_postal_code"),
        text("status"),
        std_col("created_at", FieldType::Timestamp),
        std_col("modified_at", FieldType::Timestamp),
    ]
}

/// One customer row: `(id, company_name, email, billing_postal_code, status)`.
pub type CustomerRow<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

/// A SELECT producing the given customer rows.
pub fn customers_select(rows: &[CustomerRow]) -> String {
    let lit = |v: Option<&str>| match v {
        Some(v) => format!("'{}'", v.replace('\'', "''")),
        None => "NULL".into(),
    };
    let values = rows
        .iter()
        .map(|(id, name, email, postal, status)| {
            format!(
                "('{id}', '{}', {}, {}, {}, TIMESTAMPTZ '2024-01-01 10:00:00+00', TIMESTAMPTZ '2024-06-01 10:00:00+00')",
                name.replace('\'', "''"),
                lit(*email),
                lit(*postal),
                lit(*status)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT * FROM (VALUES {values}) AS t(id, company_name, email, billing_postal_code, status, created_at, modified_at)"
    )
}
