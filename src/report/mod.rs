//! Reports: the workspace's `sql/reports/<name>.sql` run against the staging
//! database and rendered through the embedded `templates/<name>.html.j2`
//! into `reports/<name>.html`, with the same data as `reports/<name>.json`
//! (SPEC §4).
//!
//! The SQL is the workspace copy (analysts may edit it); the templates ship
//! inside the binary. A report's context is a typed [`ReportHeader`] plus one
//! list of rows per named query, so a template reads `objects`, `fields`,
//! ... exactly as the SQL file names them.

pub mod queries;
pub mod templates;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{SecondsFormat, Utc};
use duckdb::Connection;
use serde::Serialize;

use crate::error::{Error, IoContext, Result};
use crate::stage::db::relation_exists;
use crate::stage::open_existing_database;
use crate::workspace::Workspace;
use queries::{parse_named_queries, restore_hint, run_query};
pub use templates::Templates;

/// What every report shows at its top.
#[derive(Debug, Clone, Serialize)]
pub struct ReportHeader {
    /// The report's name, e.g. `inventory`.
    pub report: String,
    /// The workspace folder it was rendered from.
    pub workspace: String,
    /// When it was rendered (UTC, RFC 3339).
    pub generated_at: String,
    /// The ferry version that rendered it.
    pub ferry_version: &'static str,
    /// The SQL file (workspace copy) that produced its data.
    pub sql_file: String,
}

/// The full template context: the header plus each named query's rows.
#[derive(Debug, Serialize)]
struct ReportContext<'a> {
    header: &'a ReportHeader,
    #[serde(flatten)]
    results: &'a BTreeMap<String, Vec<serde_json::Value>>,
}

/// Files written for one report.
#[derive(Debug, Clone, Serialize)]
pub struct RenderedReport {
    pub name: String,
    pub html: PathBuf,
    pub json: PathBuf,
}

/// Names of the reports ferry can render.
pub fn available_reports() -> Vec<&'static str> {
    Templates::reports()
}

/// Renders `name`, or every report for `all`.
pub fn render_reports(ws: &Workspace, name: &str) -> Result<Vec<RenderedReport>> {
    let names: Vec<String> = if name == "all" {
        available_reports().into_iter().map(String::from).collect()
    } else if available_reports().contains(&name) {
        vec![name.to_string()]
    } else {
        return Err(Error::Usage(format!(
            "there is no report named `{name}`; available: {}, or `all`",
            available_reports().join(", ")
        )));
    };
    let conn = open_staged_database(ws)?;
    let templates = Templates::new()?;
    names
        .iter()
        .map(|name| render_report(ws, &conn, &templates, name))
        .collect()
}

/// Opens the database for reporting, refusing when nothing was staged: an
/// empty report would look like an empty source.
fn open_staged_database(ws: &Workspace) -> Result<Connection> {
    let nothing_staged = || {
        Error::input(
            ws.database_path(),
            "nothing has been staged yet, so there is nothing to report",
            "run `ferry extract` and then `ferry stage` first",
        )
    };
    let conn = open_existing_database(ws)?.ok_or_else(nothing_staged)?;
    if !relation_exists(&conn, "meta", "extracts")? {
        return Err(nothing_staged());
    }
    let staged: i64 = conn.query_row("SELECT count(*) FROM meta.extracts", [], |row| row.get(0))?;
    if staged == 0 {
        return Err(nothing_staged());
    }
    Ok(conn)
}

fn render_report(
    ws: &Workspace,
    conn: &Connection,
    templates: &Templates,
    name: &str,
) -> Result<RenderedReport> {
    let sql_path = ws.sql_dir().join("reports").join(format!("{name}.sql"));
    let text = match std::fs::read_to_string(&sql_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::input(
                &sql_path,
                format!("the SQL of the `{name}` report is missing from the workspace"),
                restore_hint(&sql_path),
            ))
        }
        Err(e) => return Err(e).at(&sql_path),
    };
    let mut results = BTreeMap::new();
    for query in parse_named_queries(&text, &sql_path)? {
        let rows = run_query(conn, &query, &sql_path)?;
        results.insert(query.name.clone(), rows);
    }
    let header = ReportHeader {
        report: name.to_string(),
        workspace: ws.root.display().to_string(),
        generated_at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        ferry_version: env!("CARGO_PKG_VERSION"),
        sql_file: sql_path.display().to_string(),
    };
    let context = ReportContext {
        header: &header,
        results: &results,
    };
    let html = templates.render(&Templates::template_name(name), &context)?;
    let json = serde_json::to_string_pretty(&context).expect("report context serializes");

    let dir = ws.reports_dir();
    std::fs::create_dir_all(&dir).at(&dir)?;
    let html_path = dir.join(format!("{name}.html"));
    let json_path = dir.join(format!("{name}.json"));
    write_atomically(&html_path, html.as_bytes())?;
    write_atomically(&json_path, json.as_bytes())?;
    Ok(RenderedReport {
        name: name.to_string(),
        html: html_path,
        json: json_path,
    })
}

/// Writes under a temporary name and renames, so a browser never opens half
/// a report.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).at(&tmp)?;
    std::fs::rename(&tmp, path).at(path)
}
