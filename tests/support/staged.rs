//! A generated, extracted and staged workspace, built once per test binary
//! and copied for each test, so every test of the later stages starts from
//! real staged data without paying for generate + extract + stage again.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use assert_cmd::Command;

/// Customers in the shared dataset: enough for every kind of dirt.
pub const CUSTOMERS: u64 = 300;
pub const SEED: u64 = 11;

struct Template {
    _dir: tempfile::TempDir,
    export: PathBuf,
    sales: PathBuf,
    field_service: PathBuf,
}

fn ferry() -> Command {
    Command::cargo_bin("ferry").expect("ferry binary")
}

fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let export = dir.path().join("export");
        ferry()
            .args(["generate", export.to_str().unwrap()])
            .args([
                "--customers",
                &CUSTOMERS.to_string(),
                "--seed",
                &SEED.to_string(),
            ])
            .assert()
            .success();
        let mut made = Vec::new();
        for profile in ["sales", "field-service"] {
            let ws = dir.path().join(profile);
            ferry()
                .args(["init", ws.to_str().unwrap(), "--profile", profile])
                .arg("--source")
                .arg(format!("csv:{}", export.display()))
                .assert()
                .success();
            ferry()
                .arg("--workspace")
                .arg(&ws)
                .args(["extract", "--allow-pending"])
                .assert()
                .success();
            ferry()
                .arg("--workspace")
                .arg(&ws)
                .arg("stage")
                .assert()
                .success();
            made.push(ws);
        }
        Template {
            export,
            sales: made[0].clone(),
            field_service: made[1].clone(),
            _dir: dir,
        }
    })
}

/// A private copy of the staged workspace of `profile`.
pub struct Staged {
    pub dir: tempfile::TempDir,
}

impl Staged {
    pub fn sales() -> Staged {
        Staged::copy_of(&template().sales)
    }

    pub fn field_service() -> Staged {
        Staged::copy_of(&template().field_service)
    }

    fn copy_of(from: &Path) -> Staged {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(from, &dir.path().join("ws"));
        Staged { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    /// The generated export (with `dirt.json`), shared read-only.
    pub fn export(&self) -> PathBuf {
        template().export.clone()
    }

    pub fn ferry(&self) -> Command {
        let mut cmd = ferry();
        cmd.arg("--workspace").arg(self.root());
        cmd
    }

    /// `ferry sql --format json QUERY` as JSON rows.
    pub fn query(&self, sql: &str) -> Vec<serde_json::Value> {
        let out = self
            .ferry()
            .args(["sql", "--format", "json", sql])
            .assert()
            .success();
        let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        if text.trim().is_empty() {
            return Vec::new();
        }
        if let Ok(serde_json::Value::Array(rows)) = serde_json::from_str(&text) {
            return rows;
        }
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .flat_map(|l| match serde_json::from_str::<serde_json::Value>(l) {
                Ok(serde_json::Value::Array(rows)) => rows,
                Ok(row) => vec![row],
                Err(e) => panic!("not JSON: {e}: {l}"),
            })
            .collect()
    }

    /// A single value of a one-row, one-column query, as text.
    pub fn scalar(&self, sql: &str) -> String {
        let rows = self.query(sql);
        assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
        let object = rows[0].as_object().expect("row object");
        assert_eq!(object.len(), 1, "{sql}: {rows:?}");
        match object.values().next().unwrap() {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
