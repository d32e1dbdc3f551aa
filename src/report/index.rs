//! The landing page, `reports/index.html`: one place an analyst opens to see
//! how far the migration is, which reports exist, which wait for which
//! command, and the few numbers that decide a sign-off (records staged,
//! findings open, records pushed, differences, conservation).
//!
//! It is built from what is already on disk and in the database rather than
//! from a SQL file of its own: the other reports' `.json` twins (their
//! `headline` rows, or the known shape of `inventory`, `plan` and
//! `mapping-proposal`) and a few counts per stage, each read only when its
//! table exists, so the page renders at every stage of a migration.

use std::path::Path;

use duckdb::Connection;
use serde::Serialize;
use serde_json::Value as Json;

use super::builtin_reports;
use super::{
    report_paths, title_of, write_report, RenderedReport, ReportHeader, ReportStatus, TemplateInfo,
    INDEX,
};
use crate::error::Result;
use crate::stage::db::relation_exists;
use crate::templates::{format_json_number, Templates};
use crate::workspace::Workspace;

/// Reports written by their own command, not by `ferry report`.
const OTHER_COMMANDS: &[(&str, &str)] = &[
    ("mapping-proposal", "ferry map propose"),
    ("plan", "ferry plan"),
];

/// The order a migration produces its reports in.
const PIPELINE_ORDER: &[&str] = &[
    "inventory",
    "mapping-proposal",
    "findings",
    "plan",
    "push",
    "diff",
    "reconcile",
    "workflows",
];

/// One number a report leads with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyNumber {
    /// A stable name (`differences`, `conservation`, ...), when the report
    /// gives one.
    pub key: Option<String>,
    pub label: String,
    /// As the report shows it (`1,234`, `ok`).
    pub value: String,
    /// `ok`, `problem`, `review` or `info`.
    pub status: String,
}

/// The numbers a report leads with, read from its `.json` twin: its
/// `headline` rows, or for the reports without one the figures their pages
/// show at the top. Empty for a page that is not available yet.
pub fn key_numbers(report: &str, json: &Json) -> Vec<KeyNumber> {
    if json.get("waiting").is_some() {
        return Vec::new();
    }
    if let Some(rows) = json.get("headline").and_then(Json::as_array) {
        return rows
            .iter()
            .map(|row| KeyNumber {
                key: row.get("key").and_then(Json::as_str).map(String::from),
                label: text(row.get("label")),
                value: match row.get("value") {
                    Some(v @ Json::Number(_)) => format_json_number(v),
                    other => text(other),
                },
                status: row
                    .get("status")
                    .and_then(Json::as_str)
                    .unwrap_or("info")
                    .to_string(),
            })
            .collect();
    }
    let number = |key: &str, label: &str, value: Option<&Json>| {
        value.filter(|v| v.is_number()).map(|v| KeyNumber {
            key: Some(key.to_string()),
            label: label.to_string(),
            value: format_json_number(v),
            status: "info".to_string(),
        })
    };
    match report {
        "inventory" => {
            let totals = &json["totals"][0];
            [
                number("records", "current records", totals.get("current_records")),
                number("objects", "objects", totals.get("objects")),
                number("quarantined", "quarantined rows", totals.get("quarantined")),
            ]
            .into_iter()
            .flatten()
            .collect()
        }
        "plan" => {
            let plan = &json["plan"];
            [
                number(
                    "records",
                    "records to write",
                    plan["estimate"].get("records"),
                ),
                number("requests", "requests", plan["estimate"].get("requests")),
                number("missing", "missing in the target", plan.get("missing")),
            ]
            .into_iter()
            .flatten()
            .collect()
        }
        "diff" => {
            let totals = &json["totals"][0];
            [
                number("compared", "records compared", totals.get("compared")),
                number("matched", "matched", totals.get("matched")),
                number("differing", "differing", totals.get("differing")),
                number("truncated", "truncated", totals.get("truncated")),
                number("missing", "missing", totals.get("missing")),
                number("unexpected", "unexpected", totals.get("unexpected")),
            ]
            .into_iter()
            .flatten()
            .collect()
        }
        "reconcile" => {
            let totals = &json["totals"][0];
            [
                number("checks", "conservation checks", totals.get("checks")),
                number("ok", "ok", totals.get("ok")),
                number("breaks", "breaks", totals.get("breaks")),
            ]
            .into_iter()
            .flatten()
            .collect()
        }
        "mapping-proposal" => {
            // The proposal page prints these counts without grouping.
            let fields: usize = json["objects"]
                .as_array()
                .map(|objects| {
                    objects
                        .iter()
                        .map(|o| o["fields"].as_array().map_or(0, Vec::len))
                        .sum()
                })
                .unwrap_or(0);
            let options = json["options"].as_array().map_or(0, Vec::len);
            vec![
                KeyNumber {
                    key: Some("fields".into()),
                    label: "source fields".into(),
                    value: fields.to_string(),
                    status: "info".into(),
                },
                KeyNumber {
                    key: Some("options".into()),
                    label: "picklist translations".into(),
                    value: options.to_string(),
                    status: "info".into(),
                },
            ]
        }
        _ => Vec::new(),
    }
}

fn text(value: Option<&Json>) -> String {
    match value {
        None | Some(Json::Null) => "—".to_string(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// One report as the index lists it.
#[derive(Debug, Serialize)]
struct IndexEntry {
    name: String,
    title: String,
    /// Relative link, e.g. `push.html`.
    file: String,
    /// `rendered`, `waiting`, `failed` or `missing`.
    status: String,
    /// What to do, or what went wrong.
    note: String,
    generated_at: Option<String>,
    key_numbers: Vec<KeyNumber>,
    /// The report's `.json`, for the sign-off numbers.
    #[serde(skip)]
    json: Option<Json>,
}

/// A count of records at one stage of the pipeline.
#[derive(Debug, Serialize)]
struct StageCount {
    stage: String,
    count: i64,
    /// Where the number comes from.
    source: String,
}

#[derive(Debug, Serialize)]
struct IndexContext<'a> {
    header: &'a ReportHeader,
    page_title: &'a str,
    template: &'a TemplateInfo,
    /// The sign-off numbers, shown as cards by the base layout.
    headline: Vec<Json>,
    reports: Vec<IndexEntry>,
    stages: Vec<StageCount>,
}

/// Renders `reports/index.html`, using this run's outcomes where there are
/// any and the files already in `reports/` for everything else.
pub(super) fn render_index(
    ws: &Workspace,
    conn: &Connection,
    templates: &Templates,
    this_run: &[RenderedReport],
) -> Result<RenderedReport> {
    let mut names: Vec<String> = PIPELINE_ORDER.iter().map(|s| s.to_string()).collect();
    for name in builtin_reports() {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    let builtin = builtin_reports();
    let mut reports = Vec::new();
    for name in &names {
        let made_by_report = builtin.contains(&name.as_str());
        let made_elsewhere = OTHER_COMMANDS.iter().find(|(n, _)| n == name);
        if !made_by_report && made_elsewhere.is_none() {
            // A report another part of ferry has not shipped yet.
            continue;
        }
        reports.push(entry(ws, name, made_elsewhere.map(|(_, c)| *c), this_run));
    }

    let counts = StageCounts::read(conn)?;
    let headline = headline(&counts, &reports);
    let stages = counts.chart();
    let header = ReportHeader::new(ws, INDEX, "reports/*.json and the staging database".into());
    let template_name = Templates::template_name(INDEX);
    let template = TemplateInfo::of(ws, templates, &template_name);
    let context = IndexContext {
        header: &header,
        page_title: title_of(INDEX),
        template: &template,
        headline,
        reports,
        stages,
    };
    let html = templates.render(&template_name, &context)?;
    let json = serde_json::to_string_pretty(&context).expect("index context serializes");
    let (html_path, json_path) = write_report(ws, INDEX, &html, &json)?;
    Ok(RenderedReport {
        name: INDEX.to_string(),
        html: html_path,
        json: json_path,
        status: ReportStatus::Rendered,
        waits_for: Vec::new(),
        problem: None,
    })
}

fn entry(
    ws: &Workspace,
    name: &str,
    made_by: Option<&str>,
    this_run: &[RenderedReport],
) -> IndexEntry {
    let (html, json_path) = report_paths(ws, name);
    let mut entry = IndexEntry {
        name: name.to_string(),
        title: title_of(name).to_string(),
        file: format!("{name}.html"),
        status: "missing".into(),
        note: format!(
            "run `{}`",
            made_by.map_or(format!("ferry report {name}"), String::from)
        ),
        generated_at: None,
        key_numbers: Vec::new(),
        json: None,
    };
    if let Some(outcome) = this_run.iter().find(|r| r.name == name) {
        if outcome.status == ReportStatus::Failed {
            entry.status = "failed".into();
            entry.note = outcome.problem.clone().unwrap_or_default();
            return entry;
        }
    }
    if !html.is_file() {
        return entry;
    }
    let Some(json) = read_json(&json_path) else {
        entry.status = "rendered".into();
        entry.note = "no .json twin next to it".into();
        return entry;
    };
    // A report without a header (the mapping proposal) is as old as its file.
    entry.generated_at = json["header"]["generated_at"]
        .as_str()
        .map(String::from)
        .or_else(|| {
            let modified = std::fs::metadata(&html).and_then(|m| m.modified()).ok()?;
            Some(
                chrono::DateTime::<chrono::Utc>::from(modified)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            )
        });
    if let Some(waiting) = json.get("waiting") {
        entry.status = "waiting".into();
        let commands: Vec<String> = waiting["commands"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter_map(|c| c.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        entry.note = if commands.is_empty() {
            "not available yet".into()
        } else {
            format!("not available yet — run `{}`", commands.join("`, then `"))
        };
        return entry;
    }
    entry.status = "rendered".into();
    entry.note = match made_by {
        Some(command) => format!("written by `{command}`"),
        None => String::new(),
    };
    entry.key_numbers = key_numbers(name, &json);
    entry.json = Some(json);
    entry
}

fn read_json(path: &Path) -> Option<Json> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Counts per stage; `None` where the stage has not run.
#[derive(Debug, Default)]
struct StageCounts {
    landed: Option<i64>,
    quarantined: Option<i64>,
    excluded: Option<i64>,
    staged: Option<i64>,
    findings_open: Option<i64>,
    errors_open: Option<i64>,
    /// The latest push run: created + updated + unchanged, failed, finished.
    pushed: Option<(i64, i64, bool)>,
}

impl StageCounts {
    fn read(conn: &Connection) -> Result<Self> {
        let scalar = |schema: &str, table: &str, sql: &str| -> Result<Option<i64>> {
            if !relation_exists(conn, schema, table)? {
                return Ok(None);
            }
            Ok(Some(conn.query_row(sql, [], |r| r.get::<_, i64>(0))?))
        };
        let mut counts = StageCounts {
            landed: scalar(
                "meta",
                "inventory_objects",
                "SELECT coalesce(sum(current_records), 0)::BIGINT FROM meta.inventory_objects",
            )?,
            quarantined: scalar(
                "meta",
                "inventory_objects",
                "SELECT coalesce(sum(quarantined), 0)::BIGINT FROM meta.inventory_objects",
            )?,
            excluded: scalar("map", "excluded", "SELECT count(*) FROM map.excluded")?,
            staged: scalar("meta", "stg_rows", "SELECT count(*) FROM meta.stg_rows")?,
            findings_open: scalar(
                "check",
                "findings",
                "SELECT count(*) FROM \"check\".findings WHERE NOT waived",
            )?,
            errors_open: scalar(
                "check",
                "findings",
                "SELECT count(*) FROM \"check\".findings WHERE NOT waived AND severity = 'error'",
            )?,
            pushed: None,
        };
        if relation_exists(conn, "audit", "runs")? {
            let mut stmt = conn.prepare(
                "SELECT coalesce(created, 0) + coalesce(updated, 0) + coalesce(unchanged, 0),
                        coalesce(failed, 0), status = 'finished'
                 FROM audit.runs WHERE kind = 'push' ORDER BY run_id DESC LIMIT 1",
            )?;
            let mut rows = stmt.query([])?;
            if let Some(row) = rows.next()? {
                counts.pushed = Some((row.get(0)?, row.get(1)?, row.get(2)?));
            }
        }
        Ok(counts)
    }

    fn chart(&self) -> Vec<StageCount> {
        let mut out = Vec::new();
        let mut add = |stage: &str, count: Option<i64>, source: &str| {
            if let Some(count) = count {
                out.push(StageCount {
                    stage: stage.into(),
                    count,
                    source: source.into(),
                });
            }
        };
        add(
            "landed (current)",
            self.landed,
            "raw.*_current, ferry stage",
        );
        add(
            "quarantined",
            self.quarantined,
            "raw._quarantine, ferry extract",
        );
        add(
            "excluded by transforms",
            self.excluded,
            "map.excluded, ferry transform",
        );
        add(
            "staged for Dataverse",
            self.staged,
            "stg.*, ferry transform",
        );
        add(
            "open findings",
            self.findings_open,
            "check.findings, ferry validate",
        );
        add("pushed", self.pushed.map(|p| p.0), "audit.runs, ferry push");
        add(
            "failed in push",
            self.pushed.map(|p| p.1),
            "audit.records, ferry push",
        );
        out
    }
}

/// The sign-off numbers, shaped like a report's `headline` rows.
fn headline(counts: &StageCounts, reports: &[IndexEntry]) -> Vec<Json> {
    let row = |key: &str, label: &str, value: Json, status: &str| serde_json::json!({ "key": key, "label": label, "value": value, "status": status });
    // Not made yet: a dash, and the label says which command makes it.
    let not_yet = |key: &str, label: &str, command: &str| {
        row(
            key,
            &format!("{label} — run `{command}`"),
            "—".into(),
            "info",
        )
    };
    let mut out = Vec::new();
    out.push(match counts.staged {
        Some(n) => row("staged", "records staged", n.into(), "info"),
        None => not_yet("staged", "records staged", "ferry transform"),
    });
    out.push(match (counts.findings_open, counts.errors_open) {
        (Some(open), Some(errors)) => row(
            "findings",
            &format!("findings open ({errors} errors)"),
            open.into(),
            if errors > 0 {
                "problem"
            } else if open > 0 {
                "review"
            } else {
                "ok"
            },
        ),
        _ => not_yet("findings", "findings open", "ferry validate"),
    });
    out.push(match counts.pushed {
        Some((pushed, failed, finished)) => row(
            "pushed",
            &if finished {
                format!("records pushed ({failed} failed)")
            } else {
                format!("records pushed ({failed} failed; the run was interrupted)")
            },
            pushed.into(),
            if failed > 0 || !finished {
                "problem"
            } else {
                "ok"
            },
        ),
        None => not_yet("pushed", "records pushed", "ferry push"),
    });
    let report_json = |name: &str| {
        reports
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| r.json.as_ref())
    };
    let headline_value = |json: &Json, key: &str| {
        json.get("headline")
            .and_then(Json::as_array)
            .and_then(|rows| rows.iter().find(|r| r["key"] == key))
            .map(|r| {
                (
                    r["value"].clone(),
                    r["status"].as_str().unwrap_or("info").to_string(),
                )
            })
    };
    let sum = |row: &Json, keys: &[&str]| -> Option<i64> {
        keys.iter()
            .map(|k| row.get(*k).and_then(Json::as_i64))
            .sum()
    };
    out.push(match report_json("diff") {
        Some(json) => match headline_value(json, "differences") {
            Some((value, status)) => row("differences", "differences", value, &status),
            None => match sum(
                &json["totals"][0],
                &["differing", "truncated", "missing", "unexpected"],
            ) {
                Some(n) => row(
                    "differences",
                    "differences (differing, truncated, missing, unexpected)",
                    n.into(),
                    if n == 0 { "ok" } else { "problem" },
                ),
                None => not_yet("differences", "differences", "ferry verify"),
            },
        },
        None => not_yet("differences", "differences", "ferry verify"),
    });
    out.push(match report_json("reconcile") {
        Some(json) => match headline_value(json, "conservation") {
            Some((value, status)) => row("conservation", "conservation", value, &status),
            None => match json["totals"][0].get("breaks").and_then(Json::as_i64) {
                Some(0) => row("conservation", "conservation", "ok".into(), "ok"),
                Some(n) => row(
                    "conservation",
                    "conservation",
                    format!("broken ({n})").into(),
                    "problem",
                ),
                None => not_yet("conservation", "conservation", "ferry reconcile"),
            },
        },
        None => not_yet("conservation", "conservation", "ferry reconcile"),
    });
    out
}
