//! `ferry verify`: reads every pushed record back from the target, diffs
//! it field by field against what was staged, renders `reports/diff.html`
//! and exits 1 when anything is missing, unexpected, truncated or
//! differing (SPEC §3; issue 8). Progress goes to stderr, the per-table
//! summary to stdout.

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table as TextTable};
use serde::Serialize;

use super::output;
use crate::error::Result;
use crate::verify::{DiffSummary, ReadBack, VerifySql};
use crate::workspace::Workspace;
use crate::Outcome;

#[derive(Debug, Serialize)]
struct NotRead<'a> {
    relationship: &'a str,
    why: &'a str,
}

#[derive(Debug, Serialize)]
struct VerifyOutput<'a> {
    /// The `[targets.<name>]` verified, and its URL.
    target_name: &'a str,
    target: &'a str,
    tables: &'a [crate::verify::TableDiff],
    differences: u64,
    problems: u64,
    /// Staged N:N relationships that are not read back, with why.
    not_read: Vec<NotRead<'a>>,
    report: String,
    read_seconds: f64,
    diff_seconds: f64,
    http_requests: u64,
}

pub fn run(ws: &Workspace, json: bool) -> Result<Outcome> {
    let (read, summary) = {
        let conn = crate::stage::open_database(ws)?;
        let read = crate::verify::read_back(ws, &conn)?;
        crate::progress::note(format!(
            "read back {} table(s) from {} in {:.1} s; comparing",
            read.tables.len(),
            read.target,
            read.seconds
        ));
        let summary = crate::verify::diff(&conn, &VerifySql::load(Some(ws))?)?;
        (read, summary)
        // The connection closes here: the report opens the database itself.
    };
    let rendered = crate::report::render_reports(ws, "diff")?;
    let report = rendered
        .first()
        .map(|r| r.html.display().to_string())
        .unwrap_or_default();
    print_summary(&ws.config.target_name, &read, &summary, &report, json);
    Ok(if summary.problems() > 0 {
        Outcome::Problems
    } else {
        Outcome::Ok
    })
}

fn print_summary(
    target_name: &str,
    read: &ReadBack,
    summary: &DiffSummary,
    report: &str,
    json: bool,
) {
    let out = VerifyOutput {
        target_name,
        target: &read.target,
        tables: &summary.tables,
        differences: summary.differences,
        problems: summary.problems(),
        not_read: read
            .not_read
            .iter()
            .map(|(relationship, why)| NotRead { relationship, why })
            .collect(),
        report: report.to_string(),
        read_seconds: read.seconds,
        diff_seconds: summary.seconds,
        http_requests: read.http_requests,
    };
    output::emit(json, &out, |_| {
        let mut table = TextTable::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_header([
            "table",
            "staged",
            "in target",
            "matched",
            "differing",
            "truncated",
            "missing",
            "unexpected",
            "not pushed",
        ]);
        for t in &summary.tables {
            table.add_row([
                t.table.clone(),
                t.staged.to_string(),
                t.target.to_string(),
                t.matched.to_string(),
                t.differing.to_string(),
                t.truncated.to_string(),
                t.missing.to_string(),
                t.unexpected.to_string(),
                t.not_pushed.to_string(),
            ]);
        }
        for i in 1..9 {
            if let Some(c) = table.column_mut(i) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        println!("{table}");
        let sum =
            |f: fn(&crate::verify::TableDiff) -> u64| summary.tables.iter().map(f).sum::<u64>();
        println!(
            "verified {} records against the target {} ({}): {} matched, {} differing, {} truncated, {} missing, {} unexpected; {} staged record(s) were not pushed to it (see audit.records)",
            sum(|t| t.compared + t.missing),
            target_name,
            read.target,
            sum(|t| t.matched),
            sum(|t| t.differing),
            sum(|t| t.truncated),
            sum(|t| t.missing),
            sum(|t| t.unexpected),
            sum(|t| t.not_pushed),
        );
        for (relationship, why) in &read.not_read {
            println!("not verified: {relationship}: {why}");
        }
        if summary.problems() > 0 {
            println!(
                "field by field: ferry sql \"SELECT table_name, record_id, column_name, kind, staged_value, target_value FROM verify.differences\""
            );
            println!(
                "missing and unexpected records: ferry sql \"SELECT * FROM verify.records WHERE status IN ('missing', 'unexpected')\""
            );
        }
        println!("report: {report}");
    });
}
