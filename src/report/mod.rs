//! Reports: the workspace's `reports/<name>.sql` run against the staging
//! database and rendered through `templates/<name>.html.j2` into
//! `reports/<name>.html`, with the same data as `reports/<name>.json`
//! (SPEC §4, §11).
//!
//! The SQL is the workspace copy (analysts may edit it). The templates ship
//! inside the binary, and a workspace may replace any of them: a file
//! `<workspace>/templates/<name>.html.j2` (or `base.html.j2`,
//! `charts.html.j2`, which every report extends or imports) is used instead
//! of the built-in one, and each page's footer says which it was. A report's
//! context is a typed [`ReportHeader`] plus one list of rows per named query,
//! so a template reads `objects`, `fields`, ... exactly as the SQL file
//! names them.
//!
//! A report is rendered only from what exists: a SQL file may declare
//! `-- requires: audit.runs by ferry push` (see [`queries`]), and while those
//! tables are missing or empty the report becomes a "not available yet" page
//! naming the command to run, so `ferry report all` works at every stage of
//! a migration. `all` renders every report it can, keeps going past one that
//! fails, and renders the landing page ([`index`]) last, linking every report
//! (including `plan` and `mapping-proposal`, which their own commands write)
//! with its status and key numbers.
//!
//! Key numbers: a report SQL file may have a `headline` query returning
//! `key, label, value, status` rows (status `ok`, `problem`, `review` or
//! `info`); the base layout shows them as cards at the top of the page and
//! the index repeats them. `key` is a stable name the index looks for
//! (`differences` in `diff`, `conservation` in `reconcile`).

pub mod index;
pub mod queries;

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{SecondsFormat, Utc};
use duckdb::Connection;
use serde::Serialize;

use crate::atomic_write::write_atomically;
use crate::error::{Error, IoContext, Result};
use crate::sql_catalog::{record_runs, Folder, SqlCatalog};
use crate::stage::db::relation_exists;
use crate::stage::open_existing_database;
use crate::templates::{self, TemplateSource, Templates};
use crate::workspace::Workspace;
use queries::{
    parse_named_queries, parse_requirements, restore_hint, run_query, unmet_requirements, Unmet,
};

/// Report names: every built-in `reports/<name>.sql` (its template
/// is `templates/<name>.html.j2`).
pub fn builtin_reports() -> Vec<&'static str> {
    crate::sql_catalog::builtin_report_names()
}

/// The landing page's name; it has no SQL file of its own.
pub const INDEX: &str = "index";

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
    /// The SQL file that produced its data (the workspace copy, or
    /// `(built-in) reports/<name>.sql`).
    pub sql_file: String,
}

impl ReportHeader {
    fn new(ws: &Workspace, report: &str, sql_file: String) -> Self {
        ReportHeader {
            report: report.to_string(),
            workspace: ws.root.display().to_string(),
            generated_at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            ferry_version: env!("CARGO_PKG_VERSION"),
            sql_file,
        }
    }
}

/// Which template rendered a page, for its footer.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateInfo {
    /// e.g. `push.html.j2`.
    pub name: String,
    /// Built in, or the workspace's own copy.
    pub source: TemplateSource,
    /// Where a copy would override it: `<workspace>/templates/<name>`.
    pub override_path: String,
}

impl TemplateInfo {
    fn of(ws: &Workspace, templates: &Templates, name: &str) -> Self {
        TemplateInfo {
            name: name.to_string(),
            source: templates.source_of(name),
            override_path: ws
                .root
                .join(templates::OVERRIDE_DIR)
                .join(name)
                .display()
                .to_string(),
        }
    }
}

/// The full template context: the header plus each named query's rows.
#[derive(Debug, Serialize)]
struct ReportContext<'a> {
    header: &'a ReportHeader,
    page_title: &'a str,
    template: &'a TemplateInfo,
    #[serde(flatten)]
    results: &'a BTreeMap<String, Vec<serde_json::Value>>,
}

/// The context of a report that cannot be made yet.
#[derive(Debug, Serialize)]
struct WaitingContext<'a> {
    header: &'a ReportHeader,
    page_title: &'a str,
    template: &'a TemplateInfo,
    waiting: &'a Waiting,
}

/// Why a report is not available yet and what makes it so.
#[derive(Debug, Clone, Serialize)]
pub struct Waiting {
    /// The commands to run, in the order the SQL names them.
    pub commands: Vec<String>,
    /// Each missing or empty table.
    pub missing: Vec<Unmet>,
}

/// What happened to one report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// Rendered from data.
    Rendered,
    /// Its inputs do not exist yet: a "not available yet" page was written.
    Waiting,
    /// Rendering failed; `problem` says why. Nothing was written.
    Failed,
}

/// Files written for one report.
#[derive(Debug, Clone, Serialize)]
pub struct RenderedReport {
    pub name: String,
    pub html: PathBuf,
    pub json: PathBuf,
    pub status: ReportStatus,
    /// For a waiting report: the commands that make its inputs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub waits_for: Vec<String>,
    /// For a failed report: the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// A person's name for a report, for titles and the index.
pub fn title_of(name: &str) -> &str {
    match name {
        INDEX => "Migration reports",
        "inventory" => "Source inventory",
        "mapping-proposal" => "Mapping proposal",
        "findings" => "Validation findings",
        "plan" => "Schema plan and load estimate",
        "push" => "Push audit",
        "diff" => "Field-level diff",
        "reconcile" => "Reconciliation",
        "workflows" => "Power Automate rebuild reference",
        other => other,
    }
}

/// Names of the reports `ferry report` can render: every built-in report
/// SQL file, then the index.
pub fn available_reports() -> Vec<&'static str> {
    let mut names = builtin_reports();
    names.push(INDEX);
    names
}

/// Renders `name`, or every report for `all` (the index last). For `all`, a
/// report that fails does not stop the others; the first failure is
/// returned after everything else was written.
pub fn render_reports(ws: &Workspace, name: &str) -> Result<Vec<RenderedReport>> {
    let (reports, first_error) = render_reports_keep_going(ws, name)?;
    match first_error {
        Some(err) => Err(err),
        None => Ok(reports),
    }
}

/// Like [`render_reports`], but hands back every outcome together with the
/// first failure, so a caller can show what was written before saying what
/// failed.
pub fn render_reports_keep_going(
    ws: &Workspace,
    name: &str,
) -> Result<(Vec<RenderedReport>, Option<Error>)> {
    let all = name == "all";
    let names: Vec<&str> = if all {
        available_reports()
    } else if available_reports().contains(&name) {
        vec![name]
    } else {
        return Err(Error::Usage(format!(
            "there is no report named `{name}`; available: {}, or `all`",
            available_reports().join(", ")
        )));
    };
    let conn = open_staged_database(ws)?;
    let templates = Templates::for_workspace(&ws.root)?;
    let mut out = Vec::new();
    let mut first_error = None;
    for name in names {
        let result = if name == INDEX {
            index::render_index(ws, &conn, &templates, &out)
        } else {
            render_report(ws, &conn, &templates, name)
        };
        match result {
            Ok(report) => out.push(report),
            // A single named report fails as before: its error is the answer.
            Err(err) if !all => return Err(err),
            Err(err) => {
                let (html, json) = report_paths(ws, name);
                out.push(RenderedReport {
                    name: name.to_string(),
                    html,
                    json,
                    status: ReportStatus::Failed,
                    waits_for: Vec::new(),
                    problem: Some(err.to_string()),
                });
                first_error.get_or_insert(err);
            }
        }
    }
    Ok((out, first_error))
}

/// `reports/<name>.html` and `.json`.
pub fn report_paths(ws: &Workspace, name: &str) -> (PathBuf, PathBuf) {
    let dir = ws.reports_dir();
    (
        dir.join(format!("{name}.html")),
        dir.join(format!("{name}.json")),
    )
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
    let listing = SqlCatalog::for_workspace(ws).folder(Folder::Reports)?;
    let Some(file) = listing.get(name) else {
        // The workspace keeps its own report definitions and this one is
        // not among them.
        let dir = listing.dir.clone().unwrap_or_else(|| ws.reports_dir());
        let sql_path = dir.join(format!("{name}.sql"));
        return Err(Error::input(
            &sql_path,
            format!("the SQL of the `{name}` report is missing from the workspace"),
            restore_hint(&sql_path),
        ));
    };
    let sql_path = file.shown_path();
    let text = file.text.clone();
    // The SQL may name the publisher's custom tables (`{{prefix}}_equipment`),
    // like transforms and checks do.
    let text = crate::transform::render(&text, &ws.config.prefix);
    let header = ReportHeader::new(ws, name, sql_path.display().to_string());
    let page_title = title_of(name);
    let queries = parse_named_queries(&text, &sql_path)?;
    let unmet = unmet_requirements(conn, &parse_requirements(&text, &sql_path)?)?;
    if !unmet.is_empty() {
        let mut commands: Vec<String> = Vec::new();
        for command in unmet.iter().filter_map(|u| u.command.clone()) {
            if !commands.contains(&command) {
                commands.push(command);
            }
        }
        let waiting = Waiting {
            commands: commands.clone(),
            missing: unmet,
        };
        let template = TemplateInfo::of(ws, templates, templates::BASE_TEMPLATE);
        let context = WaitingContext {
            header: &header,
            page_title,
            template: &template,
            waiting: &waiting,
        };
        let html = templates.render(templates::BASE_TEMPLATE, &context)?;
        let json = serde_json::to_string_pretty(&context).expect("report context serializes");
        let (html_path, json_path) = write_report(ws, name, &html, &json)?;
        return Ok(RenderedReport {
            name: name.to_string(),
            html: html_path,
            json: json_path,
            status: ReportStatus::Waiting,
            waits_for: commands,
            problem: None,
        });
    }

    let mut results = BTreeMap::new();
    for query in &queries {
        let rows = run_query(conn, query, &sql_path)?;
        results.insert(query.name.clone(), rows);
    }
    record_runs(conn, "report", [file])?;
    let template_name = Templates::template_name(name);
    let template = TemplateInfo::of(ws, templates, &template_name);
    let context = ReportContext {
        header: &header,
        page_title,
        template: &template,
        results: &results,
    };
    let html = templates.render(&template_name, &context)?;
    let json = serde_json::to_string_pretty(&context).expect("report context serializes");
    let (html_path, json_path) = write_report(ws, name, &html, &json)?;
    Ok(RenderedReport {
        name: name.to_string(),
        html: html_path,
        json: json_path,
        status: ReportStatus::Rendered,
        waits_for: Vec::new(),
        problem: None,
    })
}

/// Writes `reports/<name>.html` and `.json`.
fn write_report(ws: &Workspace, name: &str, html: &str, json: &str) -> Result<(PathBuf, PathBuf)> {
    let dir = ws.reports_dir();
    std::fs::create_dir_all(&dir).at(&dir)?;
    let (html_path, json_path) = report_paths(ws, name);
    write_atomically(&html_path, html.as_bytes())?;
    write_atomically(&json_path, json.as_bytes())?;
    Ok((html_path, json_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_reports_are_listed() {
        for report in ["findings", "inventory", "push", "workflows"] {
            assert!(builtin_reports().contains(&report), "{report}");
        }
    }
}
