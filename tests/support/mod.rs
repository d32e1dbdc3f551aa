//! Shared helpers for the extract tests: a workspace in its own temporary
//! folder, the ferry binary, and quick DuckDB queries over landed Parquet.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub struct TestWorkspace {
    pub dir: tempfile::TempDir,
}

impl TestWorkspace {
    /// A workspace whose source is the CSV export at `export`.
    pub fn with_csv_source(export: &Path) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        ferry::commands::init::create_workspace(
            &dir.path().join("ws"),
            ferry::workspace::Profile::Sales,
            &ferry::workspace::SourceSetting::Csv(export.to_path_buf()),
            None,
        )
        .expect("init workspace");
        TestWorkspace { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    pub fn ferry(&self) -> Command {
        let mut cmd = Command::cargo_bin("ferry").expect("ferry binary");
        cmd.arg("--workspace").arg(self.root());
        cmd
    }

    /// Folders in landing/, sorted.
    pub fn landing_entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.root().join("landing"))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The complete extract folders (no .partial/.failed suffix).
    pub fn complete_extracts(&self) -> Vec<PathBuf> {
        self.landing_entries()
            .into_iter()
            .filter(|n| !n.ends_with(".partial") && !n.ends_with(".failed"))
            .map(|n| self.root().join("landing").join(n))
            .collect()
    }
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/exports")
        .join(name)
}

/// An in-memory DuckDB for reading Parquet in assertions.
pub fn duck() -> duckdb::Connection {
    ferry::duck::open_in_memory().expect("duckdb")
}

/// Runs `sql` (with `?` bound to `path`) and returns each row's columns as text.
pub fn rows(
    conn: &duckdb::Connection,
    sql: &str,
    params: &[&dyn duckdb::ToSql],
) -> Vec<Vec<Option<String>>> {
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut out = Vec::new();
    let mut result = stmt.query(params).expect("query");
    while let Some(row) = result.next().expect("row") {
        let n = row.as_ref().column_count();
        out.push(
            (0..n)
                .map(|i| row.get::<_, Option<String>>(i).expect("text column"))
                .collect(),
        );
    }
    out
}

pub fn parquet(folder: &Path, object: &str) -> String {
    folder
        .join(format!("{object}.parquet"))
        .display()
        .to_string()
}
