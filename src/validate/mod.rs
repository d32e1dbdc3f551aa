//! `ferry validate`: every `sql/checks/<rule>.sql` runs into
//! `check.findings`, waivers from `mapping/waivers.csv` are applied, and the
//! command exits 1 while errors that nobody waived remain (SPEC §4, §6 gates).
//!
//! A check is one query returning `(severity, object, record_id, field, rule,
//! message)`; ferry wraps it, casts the columns and tags each finding with
//! the file it came from. All checks run in one transaction, so a broken
//! check file leaves the previous findings in place and is named in the
//! error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use duckdb::{params, Connection};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::sql_catalog::{read_dir, record_runs, CatalogFile, Folder, SqlCatalog};
use crate::stage::db::relation_exists;
use crate::stage::open_database;
use crate::transform::mapping_files;
use crate::transform::render;
use crate::workspace::Workspace;

/// The severities a check may report, most serious first.
pub const SEVERITIES: &[&str] = &["error", "warning", "review"];

/// One check file.
#[derive(Debug, Clone)]
pub struct CheckFile {
    /// The file name without `.sql`.
    pub name: String,
    pub path: PathBuf,
    pub text: String,
}

/// Findings of one rule and severity.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RuleCount {
    pub rule: String,
    pub severity: String,
    pub count: u64,
    pub waived: u64,
}

/// What `ferry validate` found.
#[derive(Debug, Clone, Serialize)]
pub struct ValidateSummary {
    pub findings: Vec<RuleCount>,
    /// Errors nobody waived: `push` refuses while this is not 0.
    pub errors: u64,
    pub waived: u64,
    pub warnings: u64,
    pub reviews: u64,
    /// Per check file: findings and milliseconds.
    pub checks: BTreeMap<String, (u64, u64)>,
    /// Waivers (by line) that matched no finding: stale or mistyped.
    pub unused_waivers: Vec<String>,
    pub duration_ms: u64,
}

pub fn checks_dir(ws: &Workspace) -> PathBuf {
    ws.sql_dir().join("checks")
}

/// The check files of `dir`, in name order.
pub fn read_checks(dir: &Path) -> Result<Vec<CheckFile>> {
    Ok(read_dir(Folder::Checks, dir)?
        .files
        .into_iter()
        .map(CheckFile::from)
        .collect())
}

impl From<CatalogFile> for CheckFile {
    fn from(file: CatalogFile) -> CheckFile {
        CheckFile {
            path: file.shown_path(),
            name: file.name,
            text: file.text,
        }
    }
}

/// A check's query without trailing semicolons, so it can be wrapped.
pub fn query_body(text: &str) -> &str {
    text.trim_end().trim_end_matches(';').trim_end()
}

pub fn run_validate(ws: &Workspace) -> Result<ValidateSummary> {
    let listing = SqlCatalog::for_workspace(ws).folder(Folder::Checks)?;
    listing.warn_strays(Folder::Checks);
    let checks: Vec<CheckFile> = listing.files.iter().cloned().map(CheckFile::from).collect();
    let waivers = mapping_files::read_waivers(ws)?;
    let conn = open_database(ws)?;
    if !relation_exists(&conn, "meta", "stg_rows")? {
        return Err(Error::input(
            ws.database_path(),
            "nothing is transformed yet (no stg.* tables)",
            "run `ferry transform` first",
        ));
    }
    let started = Instant::now();
    let progress = crate::progress::steps("validate", checks.len() as u64);
    conn.execute_batch("BEGIN TRANSACTION")?;
    let result = (|| -> Result<BTreeMap<String, (u64, u64)>> {
        conn.execute_batch(findings_ddl())?;
        let mut per_check = BTreeMap::new();
        for check in &checks {
            progress.set_message(check.name.clone());
            let clock = Instant::now();
            let n = run_check(&conn, ws, check)?;
            let ms = clock.elapsed().as_millis() as u64;
            conn.execute(
                "INSERT INTO \"check\".runs VALUES (?, ?, ?, now())",
                params![check.name, n as i64, ms as i64],
            )?;
            per_check.insert(check.name.clone(), (n, ms));
            progress.inc(1);
        }
        mapping_files::load_waivers(&conn, &waivers)?;
        conn.execute_batch(
            "UPDATE \"check\".findings f SET waived = true, waiver_reason = w.reason
             FROM \"check\".waivers w
             WHERE f.rule = w.rule AND f.object = w.object
               AND (w.record_id IS NULL OR w.record_id = f.record_id)",
        )?;
        Ok(per_check)
    })();
    progress.finish_and_clear();
    let per_check = match result {
        Ok(p) => {
            record_runs(&conn, "validate", &listing.files)?;
            conn.execute_batch("COMMIT")?;
            p
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    };
    let mut summary = summarize(&conn)?;
    summary.checks = per_check;
    summary.unused_waivers = unused_waivers(&conn)?;
    summary.duration_ms = started.elapsed().as_millis() as u64;
    Ok(summary)
}

/// The tables a validate run fills, emptied at its start
/// (sql/schema/check.sql).
pub fn findings_ddl() -> &'static str {
    crate::sql_catalog::schema_sql("check", "findings")
}

/// The statement that files one check's findings into `check.findings`;
/// its one parameter (`?`) is the check's name. The benchmarks run this very
/// text in the stock DuckDB.
pub fn findings_insert_sql(check: &CheckFile, prefix: &str) -> String {
    let body = render(query_body(&check.text), prefix);
    // The newline before `)` keeps a trailing `--` comment from eating it.
    format!(
        "INSERT INTO \"check\".findings (check_file, severity, object, record_id, field, rule, message)
         SELECT ?, severity::VARCHAR, object::VARCHAR, record_id::VARCHAR, field::VARCHAR,
                rule::VARCHAR, message::VARCHAR
         FROM (\n{body}\n) AS finding"
    )
}

/// Runs one check into `check.findings`; returns its number of findings.
fn run_check(conn: &Connection, ws: &Workspace, check: &CheckFile) -> Result<u64> {
    let sql = findings_insert_sql(check, &ws.config.prefix);
    let n = conn.execute(&sql, params![check.name]).map_err(|e| {
        Error::input(
            &check.path,
            format!("check failed: {e}"),
            "a check is one query returning severity, object, record_id, field, rule, message; fix it and run `ferry validate` again",
        )
    })?;
    let bad: Option<String> = conn
        .query_row(
            "SELECT coalesce(severity, 'NULL') FROM \"check\".findings
             WHERE check_file = ? AND (severity IS NULL OR severity NOT IN ('error', 'warning', 'review'))
             LIMIT 1",
            params![check.name],
            |r| r.get(0),
        )
        .ok();
    if let Some(severity) = bad {
        return Err(Error::input(
            &check.path,
            format!("returned severity `{severity}`"),
            format!("severity must be one of {}", SEVERITIES.join(", ")),
        ));
    }
    let no_rule: i64 = conn.query_row(
        "SELECT count(*) FROM \"check\".findings WHERE check_file = ? AND rule IS NULL",
        params![check.name],
        |r| r.get(0),
    )?;
    if no_rule > 0 {
        return Err(Error::input(
            &check.path,
            "returned findings without a rule",
            "return the rule name (usually the file name) in the `rule` column",
        ));
    }
    Ok(n as u64)
}

fn summarize(conn: &Connection) -> Result<ValidateSummary> {
    let mut stmt = conn.prepare(
        "SELECT rule, severity, count(*), count(*) FILTER (WHERE waived)
         FROM \"check\".findings GROUP BY rule, severity
         ORDER BY CASE severity WHEN 'error' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, rule",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(RuleCount {
            rule: r.get(0)?,
            severity: r.get(1)?,
            count: r.get::<_, i64>(2)? as u64,
            waived: r.get::<_, i64>(3)? as u64,
        })
    })?;
    let findings: Vec<RuleCount> = rows.collect::<std::result::Result<_, _>>()?;
    let sum = |severity: &str, waived: bool| -> u64 {
        findings
            .iter()
            .filter(|f| f.severity == severity)
            .map(|f| if waived { f.waived } else { f.count - f.waived })
            .sum()
    };
    Ok(ValidateSummary {
        errors: sum("error", false),
        waived: findings.iter().map(|f| f.waived).sum(),
        warnings: sum("warning", false),
        reviews: sum("review", false),
        findings,
        checks: BTreeMap::new(),
        unused_waivers: Vec::new(),
        duration_ms: 0,
    })
}

fn unused_waivers(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT 'line ' || w.line || ': ' || w.rule || ' on ' || w.object || coalesce(' ' || w.record_id, '')
         FROM \"check\".waivers w
         WHERE NOT EXISTS (SELECT 1 FROM \"check\".findings f
                           WHERE f.rule = w.rule AND f.object = w.object
                             AND (w.record_id IS NULL OR w.record_id = f.record_id))
         ORDER BY w.line",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Unwaived error findings in the database (0 when validate never ran is
/// not assumed: `None` then). The loader's gate (SPEC §6) reads this.
pub fn open_errors(conn: &Connection) -> Result<Option<u64>> {
    if !relation_exists(conn, "check", "findings")? {
        return Ok(None);
    }
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM \"check\".findings WHERE severity = 'error' AND NOT waived",
        [],
        |r| r.get(0),
    )?;
    Ok(Some(n as u64))
}
